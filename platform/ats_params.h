// The ATS parameters of the platform (dmabench.ats, dmabench.atc_entries,
// iommu.ats_message_latency), declared apart from platform_params so they can be added with one
// call each: declare_ats_params() next to the other declarations, apply_ats_params() after
// make_platform_config() has filled the rest.
#pragma once

#include "models/core/params.h"
#include "platform/platform_params.h"

namespace iovsim::platform {

void declare_ats_params(core::param_registry& reg);
// Sets config.endpoint.ats, config.endpoint.atc and config.iommu.ats_message_latency from the
// resolved tree.
void apply_ats_params(const core::param_tree& tree, platform_config& config);

}  // namespace iovsim::platform
