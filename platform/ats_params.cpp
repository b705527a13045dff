#include "platform/ats_params.h"

namespace iovsim::platform {

using core::param_decl;
using core::param_kind;

void declare_ats_params(core::param_registry& reg) {
    reg.declare(param_decl("dmabench.ats", param_kind::boolean, "false", "",
                           "Give the DMA bench endpoint the ATS capability and an address "
                           "translation cache; with iommu.enabled the bench enables ATS and the "
                           "driver gives it a device-TLB context entry (TT = 01b)"));
    reg.declare(param_decl("dmabench.atc_entries", param_kind::integer, "64", "entries",
                           "Entries of the endpoint's address translation cache (fully "
                           "associative, LRU); each reaches one translation (4 KiB or the "
                           "IOMMU's page)")
                    .with_min("1")
                    .with_max("1048576"));
    reg.declare(param_decl("iommu.ats_message_latency", param_kind::time, "250ns", "ns",
                           "One way between the IOMMU and a device for an ATS Invalidate Request "
                           "or its Invalidation Completion (root complex 150 ns + link hop 100 ns)")
                    .with_max("100us"));
}

void apply_ats_params(const core::param_tree& tree, platform_config& config) {
    config.endpoint.ats = tree.get_bool("dmabench.ats");
    config.endpoint.atc.entries = static_cast<std::uint32_t>(tree.get_int("dmabench.atc_entries"));
    config.iommu.ats_message_latency = tree.get_time("iommu.ats_message_latency");
}

}  // namespace iovsim::platform
