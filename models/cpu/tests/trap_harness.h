// A small platform for the trap-path tests: host memory, a fake host bridge (passthrough BAR
// target + debug path to memory), KVM with one VM and one vCPU, a VMM device model that charges
// a fixed number of cycles, and a fake device that sends MSI writes into KVM's interrupt entry.
// The CPU clock is 1 GHz so that one cycle is exactly 1 ns and every expected time below is the
// sum of the cycle counts of DESIGN.md §7 in ns.
#pragma once

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "models/core/sc_glue.h"
#include "models/cpu/kvm.h"
#include "models/cpu/memory_view.h"
#include "models/cpu/vcpu.h"
#include "models/mem/memory.h"
#include "models/pcie/tlp.h"

namespace iovsim::cpu::testing {

constexpr std::uint64_t vm_ram_hpa = 0x1'0000'0000;  // 4 GiB
constexpr std::uint64_t vm_ram_size = 16 << 20;
constexpr std::uint64_t pid_hpa = vm_ram_hpa + vm_ram_size;  // KVM's descriptor, after the VM
constexpr std::uint64_t bar_gpa = 0xf000'0000;
constexpr std::uint64_t bar_hpa = 0xe000'0000;
constexpr std::uint64_t msix_page = 0x2000;  // trapped page of the BAR
constexpr std::uint64_t emu_gpa = 0xf100'0000;
constexpr tick_t bar_read_latency = 200 * ticks_per_ns;
constexpr tick_t bar_write_latency = 10 * ticks_per_ns;

inline tick_t ns(double v) { return ns_to_ticks(v); }

// Stands in for the root complex's cpu_socket: the BAR answers with fixed latencies; the debug
// path goes to memory.
class fake_bridge : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<fake_bridge> socket;
    struct access {
        bool write;
        std::uint64_t addr;
        std::uint32_t value;
        std::int32_t vm_id, vcpu_id;
        tick_t at;
    };
    std::vector<access> accesses;
    std::uint32_t read_value = 0xcafe'f00d;

    fake_bridge(sc_core::sc_module_name n, mem::memory& m)
        : sc_module(n), socket("socket"), m_mem(m) {
        socket.register_b_transport(this, &fake_bridge::b_transport);
        socket.register_transport_dbg(this, &fake_bridge::transport_dbg);
    }

private:
    void b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
        if (t.get_address() < bar_hpa || t.get_address() >= bar_hpa + 0x4000) {
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        pcie::tlp_extension* ext = nullptr;
        t.get_extension(ext);
        std::uint32_t v = 0;
        unsigned char* d = t.get_data_ptr();
        if (t.is_write()) {
            for (unsigned i = 0; i < 4; ++i) v |= std::uint32_t{d[i]} << (8 * i);
            delay += to_sc_time(bar_write_latency);
        } else {
            v = read_value;
            for (unsigned i = 0; i < t.get_data_length(); ++i)
                d[i] = static_cast<unsigned char>(v >> (8 * i));
            delay += to_sc_time(bar_read_latency);
        }
        accesses.push_back({t.is_write(), t.get_address(), v, ext ? ext->vm_id : -2,
                            ext ? ext->vcpu_id : -2, now_ticks(delay)});
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
    unsigned transport_dbg(tlm::tlm_generic_payload& t) {
        const bool ok =
            t.is_write() ? m_mem.debug_write(t.get_address(), t.get_data_ptr(), t.get_data_length())
                         : m_mem.debug_read(t.get_address(), t.get_data_ptr(), t.get_data_length());
        return ok ? t.get_data_length() : 0;
    }
    mem::memory& m_mem;
};

// Binds the memory's target sockets that these tests reach only through the debug path.
struct unused_initiators : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<unused_initiators> cpu, device;
    unused_initiators(sc_core::sc_module_name n, mem::memory& m)
        : sc_module(n), cpu("cpu"), device("device") {
        cpu.bind(m.cpu_socket);
        device.bind(m.device_socket);
    }
};

// A VMM device model: every access costs `cycles`; reads return `value`.
class vmm_device : public mmio_handler {
public:
    explicit vmm_device(std::uint64_t cycles, std::uint64_t value = 0)
        : m_cycles(cycles), m_value(value) {}
    std::uint64_t read(std::uint64_t offset, unsigned size, std::uint64_t& value,
                       tick_t now) override {
        log.push_back({false, offset, size, 0, now});
        value = m_value;
        return m_cycles;
    }
    std::uint64_t write(std::uint64_t offset, unsigned size, std::uint64_t value,
                        tick_t now) override {
        log.push_back({true, offset, size, value, now});
        return m_cycles;
    }
    struct entry {
        bool write;
        std::uint64_t offset;
        unsigned size;
        std::uint64_t value;
        tick_t at;
    };
    std::vector<entry> log;

private:
    std::uint64_t m_cycles, m_value;
};

// A device sending MSI writes (address 0xFEE0_0000 | dest << 12, data = vector) at given times.
class msi_source : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<msi_source> socket;
    struct message {
        tick_t at;
        std::uint8_t dest;
        std::uint32_t vector;
        unsigned len = 4;
    };
    std::vector<message> messages;

    explicit msi_source(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
        SC_HAS_PROCESS(msi_source);
        SC_THREAD(thread);
    }

private:
    void thread() {
        for (const message& m : messages) {
            if (m.at > now_ticks()) sc_core::wait(to_sc_time(m.at - now_ticks()));
            unsigned char d[4];
            for (unsigned i = 0; i < 4; ++i) d[i] = static_cast<unsigned char>(m.vector >> (8 * i));
            tlm::tlm_generic_payload t;
            set_request(t, tlm::TLM_WRITE_COMMAND, 0xfee0'0000u | (std::uint64_t{m.dest} << 12), d,
                        m.len);
            sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
            socket->b_transport(t, delay);
        }
    }
};

inline cpu_config test_config(delivery_mode interrupts, wait_mode wait) {
    cpu_config c;
    c.exits.cpu_clock_hz = 1e9;  // 1 cycle = 1 ns
    c.interrupts = interrupts;
    c.wait = wait;
    return c;
}

// The platform: build it in the TEST, set the program, sc_start().
struct platform {
    cpu_config config;
    mem::memory memory;
    memory_view pi_mem{memory};
    host_scheduler sched;
    ept map;
    int bar = -1;
    int emu = -1;
    kvm k;
    unsigned vm = 0;
    fake_bridge bridge;
    vcpu v;
    msi_source msi;
    unused_initiators unused;

    explicit platform(delivery_mode interrupts = delivery_mode::exit,
                      wait_mode wait = wait_mode::halt)
        : platform(test_config(interrupts, wait)) {}
    explicit platform(const cpu_config& c)
        : config(c),
          memory("memory", mem::dram_map({{vm_ram_hpa, vm_ram_size + 0x10000, 0}})),
          sched(c.scheduler),
          k("kvm", c, sched, pi_mem),
          vm(init_vm()),
          bridge("bridge", memory),
          v("vcpu0", k, vcpu_params{vm, pid_hpa, 4}),
          msi("msi"),
          unused("unused", memory) {
        v.socket.bind(bridge.socket);
        msi.socket.bind(k.irq_socket);
    }
    unsigned init_vm() {
        map.map_ram(0, vm_ram_hpa, vm_ram_size);
        bar = map.add_passthrough("vf0.bar0", bar_gpa, bar_hpa, 0x4000);
        map.trap(bar, msix_page, 0x1000);
        emu = map.add_emulated("emu", emu_gpa, 0x1000);
        return k.add_vm(map, config.interrupts, config.wait);
    }
};

}  // namespace iovsim::cpu::testing
