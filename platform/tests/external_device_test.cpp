// A library user's own device behind root port 0 (pcie.device: external): the platform leaves
// the root port's sockets for it; bound to them, it is enumerated like a built-in device and its
// DMA reaches memory through the same root complex. Here the "own" device is a DMA bench endpoint
// the test builds itself, with a vendor ID of its own.
#include <gtest/gtest.h>

#include <systemc>

#include "models/pcie/dma_endpoint.h"
#include "platform/host_platform.h"
#include "platform/platform_params.h"

namespace iovsim::platform {
namespace {

TEST(ExternalDevice, UsersOwnModelIsEnumeratedBehindRootPort0) {
    core::param_registry reg;
    declare_platform_params(reg);
    core::param_tree tree(reg);
    tree.set("pcie.device=external");
    host_platform p(make_platform_config(tree));
    EXPECT_EQ(p.nic, nullptr);
    EXPECT_EQ(p.endpoint, nullptr);

    pcie::dma_endpoint_params mine;
    mine.vendor_id = 0x1d0f;  // not the built-in bench's
    pcie::dma_endpoint own("own_device", mine);
    p.rc.downstream.bind(own.link_in);
    own.link_out.bind(p.rc.upstream);

    std::vector<pcie::enumerated_function> found;
    p.cpu.run([&](host_cpu&) { found = p.enumerate(); });
    sc_core::sc_start();
    ASSERT_TRUE(p.cpu.failure().empty()) << p.cpu.failure();
    bool seen = false;
    for (const auto& f : found) {
        if (f.id == pcie::routing_id{1, 0, 0}) {  // root port 0's secondary bus, device 0
            EXPECT_EQ(f.vendor_id, 0x1d0f);
            EXPECT_FALSE(f.bars.empty());  // its BARs were sized and placed
            seen = true;
        }
    }
    EXPECT_TRUE(seen) << "the user's device was not enumerated at 01:00.0";
}

}  // namespace
}  // namespace iovsim::platform
