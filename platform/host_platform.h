// The host platform of the foundation: DRAM behind an LLC, a root complex with its root ports
// and links, the translation stage (identity while the IOMMU is off), the interrupt controller
// stand-in, the DMA bench endpoint on the first root port, and a host CPU that runs firmware
// and driver programs. Builds and binds only; behaviour lives in the models.
#pragma once

#include <string>

#include "models/core/stats.h"
#include "models/mem/memory.h"
#include "models/pcie/dma_endpoint.h"
#include "models/pcie/identity_translation.h"
#include "models/pcie/root_complex.h"
#include "platform/host_cpu.h"
#include "platform/interrupt_sink.h"
#include "platform/platform_params.h"

namespace iovsim::platform {

class host_platform {
public:
    explicit host_platform(const platform_config& c);

    const platform_config& config() const { return m_config; }
    void register_stats(core::stats_registry& reg) const;

    // Enumerates the PCIe hierarchy from the CPU's thread (a program run by `cpu`).
    std::vector<pcie::enumerated_function> enumerate();

private:
    platform_config m_config;

public:
    mem::memory memory;
    pcie::root_complex rc;
    pcie::identity_translation translation;
    interrupt_sink interrupts;
    pcie::dma_endpoint endpoint;
    host_cpu cpu;
};

}  // namespace iovsim::platform
