// The TLP extension that rides on every PCIe transaction (DESIGN.md §4).
//
// A tlm_generic_payload carries address, command, data and byte count; this extension adds what
// a PCIe TLP header carries beyond that: the requester ID (bus/device/function), the tag, the
// address type of the AT field (untranslated, translation request, translated) and an optional
// PASID. CPU-side transactions (from vCPUs) also carry the VM and vCPU IDs. Models decode
// behaviour from these fields only; the trace context (models/core) is separate and never steers.
#pragma once

#include <cstdint>
#include <tlm>

#include "models/pcie/routing_id.h"

namespace iovsim::pcie {

// AT field of a memory request TLP (PCIe Base Spec, Address Translation Services).
enum class address_type : std::uint8_t {
    untranslated = 0,
    translation_request = 1,
    translated = 2
};

// What the TLP is. Memory requests carry a host (or bus) address in the payload; configuration
// requests carry the register offset (0..4095) and name the function addressed in `target`.
enum class tlp_type : std::uint8_t { memory, config_type0, config_type1 };

class tlp_extension : public tlm::tlm_extension<tlp_extension> {
public:
    tlp_type type = tlp_type::memory;
    routing_id requester{};
    routing_id target{};  // configuration requests only
    std::uint16_t tag = 0;
    address_type at = address_type::untranslated;
    bool pasid_valid = false;
    std::uint32_t pasid = 0;
    // CPU-side transactions: which VM and vCPU issued them (-1: the host).
    std::int32_t vm_id = -1;
    std::int32_t vcpu_id = -1;

    tlm::tlm_extension_base* clone() const override { return new tlp_extension(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const tlp_extension&>(other);
    }
};

}  // namespace iovsim::pcie
