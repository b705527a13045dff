// The API guest programs (drivers, workloads) are written against (issue 5): a guest_context
// that one vCPU gives the program it runs, and the device-model interface the VMM and KVM trap
// handlers implement. Plain C++: a driver model includes this header only, never SystemC, and
// reads like the driver it imitates:
//
//     void xmit(cpu::guest_context& g) {
//         g.write(desc_gpa, &desc, sizeof desc);   // guest memory: cache-hit cost
//         g.mmio_write32(bar + TDT, tail);         // a doorbell: passthrough or a trapped exit
//         const std::uint8_t v = g.wait_for_interrupt(rx_vector);  // halt or poll (vm.wait)
//         g.eoi();                                 // exits unless APICv or posted
//     }
//
// What each call costs is the vCPU's business (models/cpu/vcpu.h): guest memory accesses are
// cache hits touching real bytes, MMIO goes through the EPT (ept.h) straight to the device or out
// through a VM exit, port I/O always exits, compute() is CPU time on the vCPU's host core.
// Leaves out: instructions, paging inside the guest (addresses are guest-physical), interrupts
// preempting the program: the program takes an interrupt where it waits for one. No timing here.
#pragma once

#include <cstdint>
#include <functional>

#include "models/core/units.h"

namespace iovsim::cpu {

class guest_context {
public:
    virtual ~guest_context() = default;

    // Guest memory (guest-physical, through the EPT to host DRAM). An access outside guest RAM
    // is the guest's mistake: reads return all ones, writes are dropped, both counted.
    virtual void read(std::uint64_t gpa, void* dst, std::uint32_t len) = 0;
    virtual void write(std::uint64_t gpa, const void* src, std::uint32_t len) = 0;
    std::uint32_t read32(std::uint64_t gpa) { return read_le<std::uint32_t>(gpa); }
    std::uint64_t read64(std::uint64_t gpa) { return read_le<std::uint64_t>(gpa); }
    void write32(std::uint64_t gpa, std::uint32_t v) { write_le(gpa, v); }
    void write64(std::uint64_t gpa, std::uint64_t v) { write_le(gpa, v); }

    // MMIO to a guest-physical address: passthrough (no exit) or trapped (an exit).
    virtual std::uint32_t mmio_read32(std::uint64_t gpa) = 0;
    virtual void mmio_write32(std::uint64_t gpa, std::uint32_t value) = 0;
    virtual void mmio_write64(std::uint64_t gpa, std::uint64_t value) = 0;
    // Port I/O (IN/OUT of 1, 2 or 4 bytes): always an IO_INSTRUCTION exit.
    virtual std::uint32_t pio_in(std::uint16_t port, unsigned size) = 0;
    virtual void pio_out(std::uint16_t port, unsigned size, std::uint32_t value) = 0;

    // `cycles` of guest CPU work at host.cpu_clock.
    virtual void compute(std::uint64_t cycles) = 0;
    // A null hypercall (VMCALL): one exit handled in KVM.
    virtual void hypercall() = 0;
    // Returns once `vector` has been delivered to the guest (it may have been already: the
    // interrupt came while the program did something else). Waits as vm.wait says: HLT (an exit,
    // KVM's halt polling) or a spin in guest mode.
    virtual void wait_for_interrupt(std::uint8_t vector) = 0;
    // End of interrupt to the local APIC: an exit unless APICv or posted interrupts.
    virtual void eoi() = 0;

    // The packet the program works on now (core::no_packet: none). Exits charge their stages to
    // it in the packet accountant; the program's own time is charged to `guest`.
    virtual void set_packet(std::uint64_t packet_id) = 0;
    // Kernel time plus the vCPU's local offset.
    virtual tick_t now() const = 0;
    virtual unsigned vm_id() const = 0;
    virtual unsigned vcpu_id() const = 0;

private:
    template <typename T>
    T read_le(std::uint64_t gpa) {
        unsigned char b[sizeof(T)];
        read(gpa, b, sizeof(T));
        T v = 0;
        for (unsigned i = 0; i < sizeof(T); ++i) v |= static_cast<T>(b[i]) << (8 * i);
        return v;
    }
    template <typename T>
    void write_le(std::uint64_t gpa, T v) {
        unsigned char b[sizeof(T)];
        for (unsigned i = 0; i < sizeof(T); ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
        write(gpa, b, sizeof(T));
    }
};

using guest_program = std::function<void(guest_context&)>;

// A device model behind a trapped MMIO region or a range of I/O ports: in the VMM (an exit
// returned to user space) or in KVM. Offsets are from the region's base (the BAR's base for a
// trapped page of a passthrough BAR; the first port for port I/O). Each call returns the model's
// own work in CPU cycles, which the vCPU charges on top of the exit (to the `vmm` stage for a
// VMM device, `kvm` for an in-kernel one). `now` is when the access reaches the model.
class mmio_handler {
public:
    virtual ~mmio_handler() = default;
    virtual std::uint64_t read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                               tick_t now) = 0;
    virtual std::uint64_t write(std::uint64_t offset, unsigned size, std::uint64_t value,
                                tick_t now) = 0;
};

}  // namespace iovsim::cpu
