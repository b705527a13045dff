// The frame transport between Ethernet MACs: a SystemC interface, the MAC's transmit side and a
// time-ordered pcap capture.
//
// Models one direction of a full-duplex link as a call: the transmitting MAC owns the timing of
// its direction (a wire_direction: serialization at line rate with 20 B preamble, SFD and gap
// per frame, then propagation) and calls deliver() on the far end's frame_if with the frame's
// bytes and the time its last bit arrives. Bind an `sc_port<frame_if>` (the transmitter's
// wire_out) to the receiver's `sc_export<frame_if>` (wire_in). A receiver must not wait() in
// deliver(): it queues the frame and acts on it at `arrival` (an sc_event notified with the
// difference), or computes its answer at once if it has no state in time (the echo peer).
//
// Frames are real bytes after the SFD: header, payload, padding and FCS (ethernet.h).
//
// wire_capture writes frames to a nanosecond pcap file in time order although loosely-timed
// callers hand them over slightly out of order: a frame is never captured at a time earlier than
// the kernel time of the call that hands it over, so every frame older than the current kernel
// time can be written; the rest wait in a buffer until then or until flush(). A capture is a
// by-product of the run: a packet the pcap writer refuses (out of time order, above the snaplen,
// an I/O error) is logged under module "net.pcap", counted in write_errors() and left out of the
// file; the simulation goes on, and flush() and the destructor never throw.
//
// Leaves out: link down, pause frames, bit errors (the FCS is never wrong on the wire).
//
// Timing: none beyond the wire_direction the transmitter owns.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <systemc>
#include <utility>
#include <vector>

#include "models/core/log.h"
#include "models/core/units.h"
#include "models/net/pcap.h"

namespace iovsim::net {

class frame_if : public virtual sc_core::sc_interface {
public:
    // `frame`: bytes after the SFD, FCS included. `arrival`: simulated time (ticks) when the
    // frame's last bit reaches this end, not before the caller's kernel time.
    virtual void deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) = 0;
};

// pcap of frames in time order (stored without FCS, as pcap.h does).
class wire_capture {
public:
    // Throws std::runtime_error if the file cannot be created.
    explicit wire_capture(const std::string& path) : m_writer(path) {}
    ~wire_capture() { flush(); }
    wire_capture(const wire_capture&) = delete;
    wire_capture& operator=(const wire_capture&) = delete;

    // `frame` with its FCS, seen on the wire at `time` (>= the current kernel time).
    void capture(tick_t time, const std::vector<std::uint8_t>& frame, tick_t kernel_now) {
        std::vector<std::uint8_t> bytes(frame.begin(),
                                        frame.end() - (frame.size() >= 4 ? 4 : frame.size()));
        m_pending.emplace(std::make_pair(time, m_seq++), std::move(bytes));
        while (!m_pending.empty() && m_pending.begin()->first.first < kernel_now) {
            write(m_pending.begin()->first.first, m_pending.begin()->second);
            m_pending.erase(m_pending.begin());
        }
    }
    void flush() noexcept {
        for (const auto& [key, bytes] : m_pending) write(key.first, bytes);
        m_pending.clear();
        m_writer.flush();
    }
    std::uint64_t frames() const { return m_writer.packets() + m_pending.size(); }
    std::uint64_t write_errors() const { return m_write_errors; }

private:
    void write(tick_t time, const std::vector<std::uint8_t>& bytes) noexcept {
        try {
            m_writer.write(time, bytes);
        } catch (const std::exception& e) {
            ++m_write_errors;
            try {
                core::log("net.pcap", core::log_level::error, "{}: packet left out", e.what());
            } catch (...) {  // not even the log may throw out of flush() or the destructor
            }
        }
    }

    pcap_writer m_writer;
    std::uint64_t m_seq = 0;
    std::uint64_t m_write_errors = 0;
    std::map<std::pair<tick_t, std::uint64_t>, std::vector<std::uint8_t>> m_pending;
};

}  // namespace iovsim::net
