#include "platform/default_config.h"

namespace iovsim::platform {

std::string_view default_run_yaml() {
    // Keep identical to platform/configs/default.yaml (platform_tests checks).
    return R"yaml(# The shipped default platform of `iovsim run` (compiled into the binary: platform/default_config.cpp
# holds the same text): the SR-IOV NIC on a 25 GbE wire to the echo peer, request/response with
# 64 B frames. vm.mode is bare-metal until `iovsim run` runs passthrough; the VM settings below
# (one VM, posted interrupts) are the ones the passthrough default will use.
vm:
  mode: bare-metal
  interrupts: posted
  wait: halt
  memory: 1GiB
nic:
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
