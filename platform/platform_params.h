// Every parameter of the host platform (memory, PCIe, root complex, DMA bench endpoint) declared
// once with default, unit and meaning, and the translation of a resolved parameter tree into the
// models' params structs. The `iovsim params` command lists exactly these.
#pragma once

#include "iommu/driver.h"
#include "iommu/iommu.h"
#include "models/core/params.h"
#include "models/cpu/cpu_params.h"
#include "models/mem/memory_timing.h"
#include "models/pcie/dma_endpoint.h"
#include "models/pcie/enumeration.h"
#include "models/pcie/host_map.h"
#include "models/pcie/root_complex.h"

namespace iovsim::platform {

struct platform_config {
    pcie::host_map map;
    mem::memory_timing_params memory;
    pcie::root_complex_params rc;
    pcie::dma_endpoint_params endpoint;
    pcie::enumeration_params enumeration;
    cpu::cpu_config cpu;  // host cores, KVM exit costs, interrupt delivery (models/cpu)
    // The IOMMU (iommu.*): built in place of the identity translation stage when enabled, and
    // programmed by the host driver model from the host CPU.
    bool iommu_enabled = false;
    iommu::iommu_params iommu;
    iommu::driver_params iommu_driver;
    std::uint64_t iommu_page_size = 4096;  // the DMA bench's mapping page size
    tick_t quantum = 0;
    tick_t max_time = 0;  // 0: no limit
    std::uint64_t seed = 1;
};

// Declares sim.*, host.*, mem.*, pcie.*, iommu.* and dmabench.* (the bench's keys too, so one
// registry documents everything).
void declare_platform_params(core::param_registry& reg);

// Reads a resolved tree into the models' structs. Throws core::config_error for combinations
// that single-key validation cannot catch (naming the keys).
platform_config make_platform_config(const core::param_tree& tree);

}  // namespace iovsim::platform
