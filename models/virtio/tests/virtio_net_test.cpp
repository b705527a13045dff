#include "models/virtio/virtio_net.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/pcie/capabilities.h"
#include "models/pcie/lspci_dump.h"

namespace iovsim::virtio {
namespace {

TEST(VirtioNetHdr, EncodeDecode) {
    virtio_net_hdr_v1 h;
    h.flags = 1;
    h.gso_type = 3;
    h.hdr_len = 0x0102;
    h.gso_size = 0x0304;
    h.csum_start = 0x0506;
    h.csum_offset = 0x0708;
    h.num_buffers = 0x090a;
    std::array<std::uint8_t, 12> b{};
    h.encode(b.data());
    // §5.1.6: u8 flags, u8 gso_type, then five le16 fields.
    const std::array<std::uint8_t, 12> expected{1,    3,    0x02, 0x01, 0x04, 0x03,
                                                0x06, 0x05, 0x08, 0x07, 0x0a, 0x09};
    EXPECT_EQ(b, expected);
    const virtio_net_hdr_v1 d = virtio_net_hdr_v1::decode(b.data());
    EXPECT_EQ(d.hdr_len, 0x0102);
    EXPECT_EQ(d.num_buffers, 0x090a);
    EXPECT_EQ(d.gso_type, 3);
}

TEST(VirtioNetFeatures, Offered) {
    virtio_net_params p;
    // VERSION_1 (bit 32) | EVENT_IDX (29) | STATUS (16) | MAC (5).
    EXPECT_EQ(offered_features(p), (1ull << 32) | (1ull << 29) | (1ull << 16) | (1ull << 5));
    p.event_idx = false;
    p.mrg_rxbuf = true;
    EXPECT_EQ(offered_features(p), (1ull << 32) | (1ull << 16) | (1ull << 15) | (1ull << 5));
    p.mtu = 9000;  // VIRTIO_NET_F_MTU is bit 3 (§5.1.3)
    EXPECT_EQ(offered_features(p),
              (1ull << 32) | (1ull << 16) | (1ull << 15) | (1ull << 5) | (1ull << 3));
}

TEST(VirtioNetPci, MtuInTheDeviceConfigWithFMtuOnly) {
    virtio_net_params p;
    p.mtu = 9000;
    virtio_net_pci d(p);
    // struct virtio_net_config (§5.1.4): mac[6], status le16 at 6, max_virtqueue_pairs le16 at
    // 8, mtu le16 at 10.
    EXPECT_EQ(d.mmio_read(bar_layout::device + 10, 2), 9000u);
    EXPECT_EQ(d.mmio_read(bar_layout::device + 8, 2), 1u);
    EXPECT_EQ(d.mmio_read(bar_layout::device + 8, 4), 1u | 9000u << 16);
    EXPECT_EQ(d.bad_accesses(), 0u);
    EXPECT_EQ(d.mmio_read(bar_layout::device + 12, 1), 0u);  // past the config
    EXPECT_EQ(d.bad_accesses(), 1u);
    // Without F_MTU the config ends at status: the mtu field is not there.
    virtio_net_pci plain;
    EXPECT_EQ(plain.mmio_read(bar_layout::device + 10, 2), 0u);
    EXPECT_EQ(plain.bad_accesses(), 1u);
    p.mtu = 67;  // below the minimum the spec allows a driver (68)
    EXPECT_THROW(virtio_net_pci{p}, std::invalid_argument);
}

TEST(VirtioNetPci, IdentityAndVendorCapabilities) {
    virtio_net_pci d;
    const pcie::config_space& cs = d.config();
    EXPECT_EQ(cs.read(pcie::cfg::vendor_id, 2), 0x1af4u);
    EXPECT_EQ(cs.read(pcie::cfg::device_id, 2), 0x1041u);
    EXPECT_EQ(cs.read(pcie::cfg::revision_id, 1), 1u);
    EXPECT_EQ(cs.read(pcie::cfg::class_code, 1) | cs.read(0x0a, 2) << 8, 0x020000u);
    // Walk the standard list: five vendor-specific caps after PM, MSI-X, PCIe.
    std::vector<std::uint16_t> vendor;
    for (const auto& c : cs.capabilities())
        if (c.id == cap_id_vendor) vendor.push_back(c.offset);
    ASSERT_EQ(vendor.size(), 5u);
    const std::uint8_t types[5] = {pci_cap_type::common_cfg, pci_cap_type::isr_cfg,
                                   pci_cap_type::device_cfg, pci_cap_type::notify_cfg,
                                   pci_cap_type::pci_cfg};
    const std::uint32_t offsets[4] = {0x0000, 0x1000, 0x2000, 0x3000};
    for (int i = 0; i < 5; ++i) {
        const std::uint16_t at = vendor[i];
        EXPECT_EQ(cs.read(at + pci_cap_off::cfg_type, 1), types[i]);
        EXPECT_EQ(cs.read(at + pci_cap_off::cap_len, 1), i == 3 || i == 4 ? 20u : 16u);
        if (i < 4) {
            EXPECT_EQ(cs.read(at + pci_cap_off::bar, 1), 4u);
            EXPECT_EQ(cs.read(at + pci_cap_off::offset, 4), offsets[i]);
            EXPECT_EQ(cs.read(at + pci_cap_off::length, 4), 0x1000u);
        }
    }
    EXPECT_EQ(cs.read(vendor[3] + pci_cap_off::notify_off_multiplier, 4), 4u);
    EXPECT_EQ(pcie::msix_table_size(cs), 3u);
    EXPECT_EQ(pcie::msix_table(cs).bir, 1);
    EXPECT_EQ(pcie::msix_pba(cs).offset, 0x800u);
    EXPECT_EQ(cs.bar_size(4), 0x4000u);
    EXPECT_THROW(virtio_net_pci(virtio_net_params{{}, 100}), std::invalid_argument);
}

std::string run(const std::string& cmd) {
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
    return out;
}

TEST(VirtioNetPci, LspciDecodesVirtioCaps) {
    virtio_net_pci d;
    d.config().assign_bar(1, 0xfe000000);
    d.config().assign_bar(4, 0xc000000000);
    const auto path = std::filesystem::temp_directory_path() /
                      ("iovsim_virtio_lspci_" + std::to_string(getpid()) + ".txt");
    std::ofstream(path) << pcie::lspci_dump(pcie::routing_id{1, 0, 0}, d.config());
    const std::string text = run("lspci -vvv -F " + path.string() + " 2>/dev/null");
    std::filesystem::remove(path);
    if (text.empty()) GTEST_SKIP() << "lspci not available";
    EXPECT_NE(text.find("Red Hat, Inc. Virtio 1.0 network device (rev 01)"), std::string::npos)
        << text;
    EXPECT_NE(text.find("Region 4: Memory at c000000000 (64-bit, prefetchable)"),
              std::string::npos);
    EXPECT_NE(text.find("MSI-X: Enable- Count=3"), std::string::npos);
    // One line per virtio structure, with what the capability says (bar 4, the QEMU layout).
    EXPECT_NE(text.find("VirtIO: CommonCfg\n\t\tBAR=4 offset=00000000 size=00001000"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("VirtIO: ISR\n\t\tBAR=4 offset=00001000 size=00001000"), std::string::npos);
    EXPECT_NE(text.find("VirtIO: DeviceCfg\n\t\tBAR=4 offset=00002000 size=00001000"),
              std::string::npos);
    EXPECT_NE(text.find("VirtIO: Notify\n\t\tBAR=4 offset=00003000 size=00001000 "
                        "multiplier=00000004"),
              std::string::npos);
}

std::uint64_t common(std::uint32_t off) { return bar_layout::common + off; }

void negotiate(virtio_net_pci& d, std::uint64_t features) {
    d.mmio_write(common(common_cfg::device_status), 1, status::acknowledge | status::driver);
    d.mmio_write(common(common_cfg::driver_feature_select), 4, 0);
    d.mmio_write(common(common_cfg::driver_feature), 4, features & 0xffffffffu);
    d.mmio_write(common(common_cfg::driver_feature_select), 4, 1);
    d.mmio_write(common(common_cfg::driver_feature), 4, features >> 32);
    d.mmio_write(common(common_cfg::device_status), 1,
                 status::acknowledge | status::driver | status::features_ok);
}

TEST(VirtioNetPci, FeatureNegotiation) {
    using namespace feature;
    virtio_net_pci d;
    d.mmio_write(common(common_cfg::device_feature_select), 4, 1);
    EXPECT_EQ(d.mmio_read(common(common_cfg::device_feature), 4), 1u);  // bit 32 - 32
    d.mmio_write(common(common_cfg::device_feature_select), 4, 0);
    EXPECT_EQ(d.mmio_read(common(common_cfg::device_feature), 4),
              (1u << 29) | (1u << 16) | (1u << 5));
    d.mmio_write(common(common_cfg::device_feature_select), 4, 2);
    EXPECT_EQ(d.mmio_read(common(common_cfg::device_feature), 4), 0u);

    // Without VERSION_1: FEATURES_OK does not stick.
    negotiate(d, bit(net_mac));
    EXPECT_FALSE(d.mmio_read(common(common_cfg::device_status), 1) & status::features_ok);
    // A bit that was not offered (CSUM).
    d.mmio_write(common(common_cfg::device_status), 1, 0);
    negotiate(d, bit(version_1) | bit(net_csum));
    EXPECT_FALSE(d.device_status() & status::features_ok);
    // A subset with VERSION_1.
    d.mmio_write(common(common_cfg::device_status), 1, 0);
    negotiate(d, bit(version_1) | bit(ring_event_idx));
    EXPECT_TRUE(d.device_status() & status::features_ok);
    EXPECT_TRUE(d.negotiated(ring_event_idx));
    EXPECT_FALSE(d.negotiated(net_mac));
    // Fixed once accepted.
    d.mmio_write(common(common_cfg::driver_feature_select), 4, 0);
    d.mmio_write(common(common_cfg::driver_feature), 4, bit(net_mac));
    EXPECT_FALSE(d.negotiated(net_mac));
    // Reset clears everything.
    int resets = 0;
    d.on_reset = [&] { ++resets; };
    d.mmio_write(common(common_cfg::device_status), 1, 0);
    EXPECT_EQ(resets, 1);
    EXPECT_EQ(d.device_status(), 0);
    EXPECT_EQ(d.driver_features(), 0u);
}

TEST(VirtioNetPci, QueueSetupAndNotify) {
    virtio_net_pci d;
    negotiate(d, feature::bit(feature::version_1));
    EXPECT_EQ(d.mmio_read(common(common_cfg::num_queues), 2), 2u);
    d.mmio_write(common(common_cfg::queue_select), 2, 1);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_size), 2), 256u);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_notify_off), 2), 1u);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_msix_vector), 2), msix_no_vector);
    d.mmio_write(common(common_cfg::queue_size), 2, 128);
    d.mmio_write(common(common_cfg::queue_msix_vector), 2, 2);
    // 64-bit field: two 32-bit halves (low, high), and one 64-bit write.
    d.mmio_write(common(common_cfg::queue_desc), 4, 0x00001000);
    d.mmio_write(common(common_cfg::queue_desc + 4), 4, 0x00000001);
    d.mmio_write(common(common_cfg::queue_driver), 8, 0x100002000ull);
    d.mmio_write(common(common_cfg::queue_device), 8, 0x100003000ull);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_desc), 8), 0x100001000ull);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_desc + 4), 4), 1u);
    std::vector<std::pair<std::uint16_t, queue_layout>> enabled;
    d.on_queue_enable = [&](std::uint16_t q, const queue_layout& l) { enabled.push_back({q, l}); };
    d.mmio_write(common(common_cfg::queue_enable), 2, 1);
    ASSERT_EQ(enabled.size(), 1u);
    EXPECT_EQ(enabled[0].first, 1);
    EXPECT_EQ(enabled[0].second.size, 128u);
    EXPECT_EQ(enabled[0].second.avail, 0x100002000ull);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_enable), 2), 1u);
    // Fixed while enabled.
    d.mmio_write(common(common_cfg::queue_desc), 8, 0);
    EXPECT_EQ(d.queue(1).desc, 0x100001000ull);
    // A queue that does not exist reads size 0.
    d.mmio_write(common(common_cfg::queue_select), 2, 7);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_size), 2), 0u);

    std::vector<std::uint16_t> kicks;
    d.on_notify = [&](std::uint16_t q) { kicks.push_back(q); };
    // Notify address of queue q: 0x3000 + q × 4.
    EXPECT_EQ(virtio_net_pci::notify_offset(1), 0x3004u);
    d.mmio_write(0x3004, 2, 1);
    d.mmio_write(0x3000, 4, 0);  // guest API's 32-bit write
    EXPECT_EQ(kicks, (std::vector<std::uint16_t>{1, 0}));
    EXPECT_EQ(d.notifications(), 2u);
    d.mmio_write(0x3002, 2, 0);  // not at a queue's address
    d.mmio_write(0x3008, 2, 2);  // queue 2 does not exist
    EXPECT_EQ(kicks.size(), 2u);
    EXPECT_EQ(d.bad_accesses(), 2u);

    int driver_ok = 0;
    d.on_driver_ok = [&] { ++driver_ok; };
    d.mmio_write(common(common_cfg::device_status), 1,
                 status::acknowledge | status::driver | status::features_ok | status::driver_ok);
    EXPECT_EQ(driver_ok, 1);
}

TEST(VirtioNetPci, BadQueueSetupNeedsReset) {
    virtio_net_pci d;
    negotiate(d, feature::bit(feature::version_1));
    d.mmio_write(common(common_cfg::queue_select), 2, 0);
    d.mmio_write(common(common_cfg::queue_size), 2, 100);  // not a power of two
    bool enabled = false;
    d.on_queue_enable = [&](std::uint16_t, const queue_layout&) { enabled = true; };
    d.mmio_write(common(common_cfg::queue_enable), 2, 1);
    EXPECT_FALSE(enabled);
    EXPECT_TRUE(d.device_status() & status::device_needs_reset);
    EXPECT_EQ(d.mmio_read(bar_layout::isr, 1), 2u);  // config change; reading clears
    EXPECT_EQ(d.mmio_read(bar_layout::isr, 1), 0u);
    EXPECT_EQ(d.mmio_read(common(common_cfg::config_generation), 1), 1u);
    d.mmio_write(common(common_cfg::queue_size), 2, 512);  // above the maximum of 256
    d.mmio_write(common(common_cfg::queue_enable), 2, 1);
    EXPECT_FALSE(enabled);
}

TEST(VirtioNetPci, DeviceConfigAndBadAccesses) {
    virtio_net_pci d;
    // mac 52:54:00:12:34:56, status LINK_UP.
    EXPECT_EQ(d.mmio_read(bar_layout::device + 0, 1), 0x52u);
    EXPECT_EQ(d.mmio_read(bar_layout::device + 5, 1), 0x56u);
    EXPECT_EQ(d.mmio_read(bar_layout::device + 0, 4), 0x12005452u);
    EXPECT_EQ(d.mmio_read(bar_layout::device + net_cfg::status, 2), 1u);
    EXPECT_EQ(d.bad_accesses(), 0u);
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_size), 1), 0u);      // narrower than the field
    EXPECT_EQ(d.mmio_read(common(common_cfg::queue_size + 1), 1), 0u);  // not a field
    EXPECT_EQ(d.mmio_read(common(0), 3), 0u);                           // size 3
    EXPECT_EQ(d.mmio_read(0x3800, 4), 0u);                              // nothing there
    d.mmio_write(bar_layout::device, 1, 0);                 // device config is read-only here
    d.mmio_write(common(common_cfg::device_status), 8, 0);  // fine: wider than the field
    EXPECT_EQ(d.bad_accesses(), 5u);
    // A 32-bit read at a 16-bit field (the guest API's width) reads the field alone.
    EXPECT_EQ(d.mmio_read(common(common_cfg::num_queues), 4), 2u);
}

}  // namespace
}  // namespace iovsim::virtio
