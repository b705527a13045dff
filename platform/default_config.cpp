#include "platform/default_config.h"

namespace iovsim::platform {

std::string_view default_run_yaml() {
    // Keep identical to platform/configs/default.yaml (platform_tests checks).
    return R"yaml(# The shipped default platform of `iovsim run` and `iovsim compare` (compiled into the binary:
# platform/default_config.cpp holds the same text): one VM with a VF of the SR-IOV NIC assigned
# (passthrough, posted interrupts, the IOMMU translating its DMA), 64 B request/response against
# an echo peer on a 25 GbE wire. Every other key has its default (`iovsim params`).
vm:
  mode: passthrough
  interrupts: posted
  wait: halt
  memory: 1GiB
iommu:
  enabled: true
nic:
  num_vfs: 4
  wire_rate: 25Gbps
  peer: echo
workload:
  type: rr
  size: 64
  count: 10000
  warmup: 100
)yaml";
}

}  // namespace iovsim::platform
