// The TLM shell: one elaboration and one sc_start (SystemC allows one per process), with a
// stimulus thread that runs the sub-cases in order.
#include "models/mem/memory.h"

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <cstring>
#include <systemc>
#include <tlm>

namespace iovsim::mem {
namespace {

using sc_core::SC_NS;
using sc_core::SC_PS;
using sc_core::sc_time;

constexpr std::uint64_t gib = 1ULL << 30;

struct initiator : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<initiator> cpu{"cpu"};
    tlm_utils::simple_initiator_socket<initiator> dev{"dev"};
    memory* mem = nullptr;
    bool finished = false;

    SC_HAS_PROCESS(initiator);
    explicit initiator(const sc_core::sc_module_name& name) : sc_module(name) { SC_THREAD(run); }

    // One b_transport; returns the response status and leaves the delay in `delay`.
    tlm::tlm_response_status go(tlm_utils::simple_initiator_socket<initiator>& s,
                                tlm::tlm_command cmd, std::uint64_t addr, void* data, unsigned len,
                                sc_time& delay, unsigned streaming_width = 0,
                                unsigned char* byte_enables = nullptr) {
        tlm::tlm_generic_payload t;
        t.set_command(cmd);
        t.set_address(addr);
        t.set_data_ptr(static_cast<unsigned char*>(data));
        t.set_data_length(len);
        t.set_streaming_width(streaming_width == 0 ? len : streaming_width);
        t.set_byte_enable_ptr(byte_enables);
        t.set_byte_enable_length(byte_enables ? len : 0);
        t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        s->b_transport(t, delay);
        return t.get_response_status();
    }

    void run() {
        // Defaults: LLC hit 20 ns, DRAM miss 80 ns, 4 channels, line time 3334 ps.
        const std::uint64_t high = 4 * gib + 0x1000;  // first DRAM range above the hole

        {
            SCOPED_TRACE("data round trip; delay accumulates latency");
            std::uint64_t out = 0x0123456789abcdefULL;
            sc_time delay = sc_core::SC_ZERO_TIME;
            // CPU write miss at 0 ns: a read for ownership, 80 ns.
            EXPECT_EQ(go(cpu, tlm::TLM_WRITE_COMMAND, high, &out, 8, delay), tlm::TLM_OK_RESPONSE);
            EXPECT_EQ(delay, sc_time(80, SC_NS));
            // Device read of the same line, arriving at 0 + 80 ns: an LLC hit, +20 ns.
            std::uint64_t in = 0;
            EXPECT_EQ(go(dev, tlm::TLM_READ_COMMAND, high, &in, 8, delay), tlm::TLM_OK_RESPONSE);
            EXPECT_EQ(in, out);
            EXPECT_EQ(delay, sc_time(100, SC_NS));
            // The bytes live at store offset 3 GiB + 0x1000 (DRAM above 4 GiB starts at the
            // hole_start offset), little-endian.
            std::uint64_t stored = 0;
            EXPECT_TRUE(mem->store().read_u64(3 * gib + 0x1000, stored));
            EXPECT_EQ(stored, out);
            wait(delay);
        }
        {
            SCOPED_TRACE("arrival is kernel time plus delay");
            EXPECT_EQ(sc_core::sc_time_stamp(), sc_time(100, SC_NS));
            // Two cold device reads arriving together on channel 0 (lines 4 apart): the
            // second waits one line time, 3334 ps.
            std::uint8_t buf[64];
            sc_time d1 = sc_core::SC_ZERO_TIME;
            sc_time d2 = sc_core::SC_ZERO_TIME;
            go(dev, tlm::TLM_READ_COMMAND, 2 * gib, buf, 64, d1);
            go(dev, tlm::TLM_READ_COMMAND, 2 * gib + 256, buf, 64, d2);
            EXPECT_EQ(d1, sc_time(80, SC_NS));
            EXPECT_EQ(d2, sc_time(80'000 + 3334, SC_PS));
            // Arriving 5 ns later in local time (at 105 ns), a third read on channel 0 queues
            // behind both: slot at 100 + 2 x 3.334 = 106.668 ns, done at 186.668 ns, i.e.
            // 81.668 ns after its arrival.
            sc_time d3(5, SC_NS);
            go(dev, tlm::TLM_READ_COMMAND, 2 * gib + 512, buf, 64, d3);
            EXPECT_EQ(d3, sc_time(5'000 + 81'668, SC_PS));
        }
        {
            SCOPED_TRACE("DDIO: a device write allocates, then a CPU read hits");
            std::uint8_t frame[128];
            for (int i = 0; i < 128; ++i) frame[i] = static_cast<std::uint8_t>(i);
            sc_time d = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(dev, tlm::TLM_WRITE_COMMAND, high + 0x10000, frame, 128, d),
                      tlm::TLM_OK_RESPONSE);
            EXPECT_EQ(d, sc_time(20, SC_NS));
            std::uint8_t back[128] = {};
            sc_time d2 = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(cpu, tlm::TLM_READ_COMMAND, high + 0x10000, back, 128, d2),
                      tlm::TLM_OK_RESPONSE);
            EXPECT_EQ(d2, sc_time(20, SC_NS));
            EXPECT_EQ(std::memcmp(frame, back, 128), 0);
        }
        {
            SCOPED_TRACE("address errors: hole, end, straddle");
            const auto before = mem->timing().stats();
            std::uint32_t v = 0;
            sc_time d(5, SC_NS);
            EXPECT_EQ(go(cpu, tlm::TLM_READ_COMMAND, 3 * gib, &v, 4, d),
                      tlm::TLM_ADDRESS_ERROR_RESPONSE);
            EXPECT_EQ(go(dev, tlm::TLM_WRITE_COMMAND, 0xFEE0'0000, &v, 4, d),
                      tlm::TLM_ADDRESS_ERROR_RESPONSE);
            EXPECT_EQ(go(dev, tlm::TLM_READ_COMMAND, 3 * gib - 2, &v, 4, d),
                      tlm::TLM_ADDRESS_ERROR_RESPONSE);
            EXPECT_EQ(go(dev, tlm::TLM_READ_COMMAND, 9 * gib, &v, 4, d),
                      tlm::TLM_ADDRESS_ERROR_RESPONSE);
            EXPECT_EQ(mem->out_of_range(), 4u);
            EXPECT_EQ(d, sc_time(5, SC_NS));  // no latency added
            EXPECT_EQ(mem->timing().stats().reads, before.reads);
            EXPECT_EQ(mem->timing().stats().writes, before.writes);
        }
        {
            SCOPED_TRACE("byte enables are rejected");
            std::uint32_t v = 0xffffffff;
            unsigned char be[4] = {0xff, 0, 0xff, 0};
            sc_time d = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(cpu, tlm::TLM_WRITE_COMMAND, 0x2000, &v, 4, d, 0, be),
                      tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
            EXPECT_EQ(mem->byte_enable_errors(), 1u);
            std::uint32_t back = 1;
            EXPECT_TRUE(mem->debug_read(0x2000, &back, 4));
            EXPECT_EQ(back, 0u);  // nothing was written
        }
        {
            SCOPED_TRACE("missing data pointer");
            sc_time d = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(cpu, tlm::TLM_READ_COMMAND, 0x2000, nullptr, 4, d),
                      tlm::TLM_GENERIC_ERROR_RESPONSE);
        }
        {
            SCOPED_TRACE("ignore command");
            std::uint32_t v = 0;
            sc_time d = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(cpu, tlm::TLM_IGNORE_COMMAND, 0x3000, &v, 4, d), tlm::TLM_OK_RESPONSE);
            EXPECT_EQ(d, sc_core::SC_ZERO_TIME);
        }
        {
            SCOPED_TRACE("streaming width repeats the window");
            const std::uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
            std::uint8_t copy[8];
            std::memcpy(copy, data, 8);
            sc_time d = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(cpu, tlm::TLM_WRITE_COMMAND, 0x4040, copy, 8, d, 4), tlm::TLM_OK_RESPONSE);
            std::uint8_t back[8] = {};
            EXPECT_TRUE(mem->debug_read(0x4040, back, 8));
            // The second beat overwrote the first: 5 6 7 8, then untouched zeros.
            const std::uint8_t expect[8] = {5, 6, 7, 8, 0, 0, 0, 0};
            EXPECT_EQ(std::memcmp(back, expect, 8), 0);
            // Both beats write line 0x4040 / 64 = 257 (channel 257 mod 4 = 1, idle so far):
            // the first misses (CPU write: RFO, 80 ns), the second hits; both arrive at the
            // same time, so the access takes 80 ns.
            EXPECT_EQ(d, sc_time(80, SC_NS));
            // Reading 8 bytes through a 4-byte window returns the window twice.
            std::uint8_t twice[8] = {};
            sc_time d2 = sc_core::SC_ZERO_TIME;
            EXPECT_EQ(go(cpu, tlm::TLM_READ_COMMAND, 0x4040, twice, 8, d2, 4),
                      tlm::TLM_OK_RESPONSE);
            const std::uint8_t expect2[8] = {5, 6, 7, 8, 5, 6, 7, 8};
            EXPECT_EQ(std::memcmp(twice, expect2, 8), 0);
        }
        {
            SCOPED_TRACE("transport_dbg: zero time, same bytes, no timing state");
            const auto before = mem->timing().stats();
            std::uint32_t v = 0xcafef00d;
            tlm::tlm_generic_payload t;
            t.set_command(tlm::TLM_WRITE_COMMAND);
            t.set_address(high + 0x20000);
            t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
            t.set_data_length(4);
            EXPECT_EQ(dev->transport_dbg(t), 4u);
            std::uint32_t back = 0;
            t.set_command(tlm::TLM_READ_COMMAND);
            t.set_data_ptr(reinterpret_cast<unsigned char*>(&back));
            EXPECT_EQ(cpu->transport_dbg(t), 4u);
            EXPECT_EQ(back, 0xcafef00du);
            t.set_address(3 * gib);  // the hole
            EXPECT_EQ(cpu->transport_dbg(t), 0u);
            t.set_address(high + 0x20000);
            t.set_command(tlm::TLM_IGNORE_COMMAND);
            EXPECT_EQ(cpu->transport_dbg(t), 0u);
            EXPECT_EQ(mem->timing().stats().reads, before.reads);
            EXPECT_EQ(mem->timing().stats().writes, before.writes);
            EXPECT_FALSE(mem->timing().cached(high + 0x20000));
            EXPECT_EQ(sc_core::sc_time_stamp(), sc_time(100, SC_NS));
        }
        finished = true;
    }
};

TEST(memory, empty_map_throws) {
    // Runs before tlm_shell (definition order), while elaboration is still open.
    EXPECT_THROW(memory("bad", dram_map{}), std::invalid_argument);
}

TEST(memory, tlm_shell) {
    memory mem("mem", x86_dram_map(8 * gib, 3 * gib));
    initiator init("init");
    init.mem = &mem;
    init.cpu.bind(mem.cpu_socket);
    init.dev.bind(mem.device_socket);
    sc_core::sc_start();
    EXPECT_TRUE(init.finished);
    // The store is sized to the map's extent and only the touched pages are allocated.
    EXPECT_EQ(mem.store().size(), 8 * gib);
    // Pages written: high, high + 0x10000, 0x4040 and high + 0x20000.
    EXPECT_EQ(mem.store().pages_touched(), 4u);
}

}  // namespace
}  // namespace iovsim::mem
