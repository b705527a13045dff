// The posted-interrupt descriptor (Intel VT-d spec §9.12 "Posted Interrupt Descriptor"; SDM Vol.
// 3C §29.6 "Posted-Interrupt Processing") as real bytes in host memory, and the operations on it
// by KVM (which allocates one per vCPU and keeps it current as the vCPU is scheduled) and by the
// IOMMU's interrupt-remapping unit (which posts into it).
//
// Layout (64 bytes, 64-byte aligned):
//   bits 255:0   PIR   posted-interrupt requests, one bit per vector
//   bit  256     ON    outstanding notification: a notification event was sent and not yet handled
//   bit  257     SN    suppress notification: set by KVM while the vCPU is preempted
//   bits 279:272 NV    notification vector: the posted-interrupt vector while the vCPU may run,
//                      the host's wake-up vector while it is blocked (halted and asleep)
//   bits 319:288 NDST  notification destination: the physical APIC ID of the CPU the vCPU is on
//                      (x2APIC: the 32-bit ID; xAPIC: the 8-bit ID in bits 15:8)
// Every operation reads and writes the descriptor's bytes through `descriptor_memory`: the
// state is in memory, nowhere else.
//
// Post (VT-d §9.12 / §5.1.5): set the vector's PIR bit; then if ON is clear and SN is clear, set
// ON and send a notification (vector NV to NDST). With SN set, or ON already set, only the PIR
// bit changes (ON stays as it was). KVM's vcpu_load clears SN and, if PIR holds requests that
// came in while SN was set, sets ON so the next VM entry processes them (vmx_vcpu_pi_load).
//
// Leaves out: the URG bit of the remapping entry (it belongs to the IRTE, not the descriptor),
// atomicity (each operation is one indivisible read-modify-write in the simulation), the
// per-CPU wake-up list KVM keeps next to the descriptor. No timing: the caller times its memory
// accesses.
#pragma once

#include <cstdint>
#include <optional>

#include "models/cpu/lapic.h"
#include "models/mem/sparse_store.h"

namespace iovsim::cpu {

// The memory the descriptor lives in (host physical addresses). A sparse_store-backed adapter
// is below; a shell may route these through its memory model's debug path.
class descriptor_memory {
public:
    virtual ~descriptor_memory() = default;
    // False if the access cannot be done (out of range).
    virtual bool read(std::uint64_t addr, void* dst, std::uint64_t len) = 0;
    virtual bool write(std::uint64_t addr, const void* src, std::uint64_t len) = 0;
};

// descriptor_memory over a sparse_store (which must outlive it).
class sparse_store_memory : public descriptor_memory {
public:
    explicit sparse_store_memory(mem::sparse_store& store) : m_store(store) {}
    bool read(std::uint64_t addr, void* dst, std::uint64_t len) override {
        return m_store.read(addr, dst, len);
    }
    bool write(std::uint64_t addr, const void* src, std::uint64_t len) override {
        return m_store.write(addr, src, len);
    }

private:
    mem::sparse_store& m_store;
};

// KVM's vectors (arch/x86/include/asm/irq_vectors.h): the notification vector a running vCPU's
// descriptor names, and the wake-up vector a blocked one's names.
constexpr std::uint8_t posted_intr_vector = 0xf2;
constexpr std::uint8_t posted_intr_wakeup_vector = 0xf1;

// NDST for a physical APIC ID: x2APIC uses all 32 bits, xAPIC puts the 8-bit ID in bits 15:8.
std::uint32_t ndst_for(std::uint32_t apic_id, bool x2apic);

// What post() asks the interrupt-remapping unit to send.
struct pi_notification {
    std::uint8_t vector;  // NV
    std::uint32_t ndst;   // NDST
};

class posted_interrupt_descriptor {
public:
    static constexpr std::uint64_t size = 64;
    static constexpr unsigned on_bit = 256;
    static constexpr unsigned sn_bit = 257;
    static constexpr unsigned nv_offset = 34;    // byte of bits 279:272
    static constexpr unsigned ndst_offset = 36;  // bytes of bits 319:288

    // The descriptor at host-physical `addr` in `mem` (which must outlive this object).
    // std::invalid_argument if addr is not 64-byte aligned. Accesses that fail are a broken
    // invariant of KVM's allocation: std::logic_error.
    posted_interrupt_descriptor(descriptor_memory& mem, std::uint64_t addr);

    std::uint64_t address() const { return m_addr; }

    // --- KVM side ---
    // Allocation: all 64 bytes zero, then NV and NDST set, SN set (not yet loaded on a CPU).
    void init(std::uint8_t notification_vector, std::uint32_t ndst);
    // vcpu_load on a physical CPU: NDST = that CPU, NV = the notification vector, SN clear; ON
    // set if PIR is not empty.
    void vcpu_load(std::uint32_t ndst, std::uint8_t notification_vector);
    // vcpu_put while preempted (still runnable): SN set, so posts do not notify.
    void vcpu_put_preempted();
    // The vCPU blocks (halted, going to sleep): NV = the host's wake-up vector, SN clear, so a
    // post wakes it through the host's wake-up handler.
    void block(std::uint8_t wakeup_vector);
    // Before VM entry (or on a notification): if ON is set, clear it, move every PIR bit into
    // the virtual APIC's IRR and clear PIR. Returns how many vectors moved.
    unsigned sync_to_irr(lapic& apic);

    // --- IOMMU side ---
    // Posts `vector`; returns the notification to send, if any.
    std::optional<pi_notification> post(std::uint8_t vector);

    // --- decoded fields ---
    bool pir(std::uint8_t vector) const;
    bool pir_empty() const;
    std::optional<std::uint8_t> highest_pir() const;  // none if PIR is empty
    bool on() const { return bit(on_bit); }
    bool sn() const { return bit(sn_bit); }
    std::uint8_t nv() const;
    std::uint32_t ndst() const;

private:
    struct image {
        std::uint8_t bytes[size];
    };
    image load() const;
    void store(const image& img);
    bool bit(unsigned n) const;
    static bool get(const image& img, unsigned n) { return (img.bytes[n / 8] >> (n % 8)) & 1; }
    static void put(image& img, unsigned n, bool v);
    static bool pir_empty(const image& img);

    descriptor_memory& m_mem;
    std::uint64_t m_addr;
};

}  // namespace iovsim::cpu
