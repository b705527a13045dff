#include "platform/packet_probe.h"

#include <algorithm>
#include <stdexcept>

#include "models/core/sc_glue.h"

namespace iovsim::platform {

void packet_timeline::begin(tick_t t, core::stage first) {
    if (!m_accountant) throw std::logic_error("packet_timeline: no accountant attached");
    if (m_open) throw std::logic_error("packet_timeline: a packet is already open");
    m_open = true;
    m_begin = t;
    m_first = first;
    m_marks.clear();
    m_exclusive.clear();
}

void packet_timeline::mark(tick_t t, core::stage s, bool pinned) {
    if (m_open && !m_paused) m_marks.push_back({t, s, pinned, false});
}

void packet_timeline::mark_vcpu(tick_t t, core::stage s) {
    if (m_open && !m_paused) m_marks.push_back({t, s, false, true});
}

tick_t packet_timeline::latest() const {
    if (!m_open) return 0;
    tick_t t = m_begin;
    for (const mark_t& m : m_marks) t = std::max(t, m.time);
    return t;
}

void packet_timeline::exclusive(tick_t from, tick_t to) {
    if (m_open) m_exclusive.emplace_back(from, to);
}

std::uint64_t packet_timeline::end(tick_t t, std::optional<bool> warmup) {
    if (!m_open) throw std::logic_error("packet_timeline: no packet is open");
    m_open = false;
    std::stable_sort(m_marks.begin(), m_marks.end(),
                     [](const mark_t& a, const mark_t& b) { return a.time < b.time; });
    const std::uint64_t id = m_accountant->begin(m_begin, m_first);
    const std::uint64_t also = m_also ? m_also->begin(m_begin, m_first) : 0;
    const auto excluded = [this](const mark_t& m) {
        if (m.pinned) return false;
        for (const auto& [from, to] : m_exclusive)
            if (m.time > from && m.time < to) return true;
        return false;
    };
    // The vCPU holds the packet until another component's mark (the hand-off: a doorbell, a
    // kick, the VMM's tap write) and again once the interrupt reaches KVM (a kvm mark from
    // elsewhere); in between its marks are its own work, off the packet's path.
    bool away = false;
    core::stage current = m_first;
    tick_t since = m_begin;
    const auto span_to = [&](tick_t to) {
        if (to > since)
            m_tracer.span(core::to_string(current), core::to_string(current), since, to, id);
    };
    for (const mark_t& m : m_marks) {
        if (!m.vcpu) away = m.stage != core::stage::kvm && m.stage != core::stage::guest;
        if (m.vcpu && away) continue;
        if (m.time >= m_begin && m.time <= t && !excluded(m)) {
            m_accountant->hand_off(id, m.time, m.stage);
            if (m_also) m_also->hand_off(also, m.time, m.stage);
            if (m.stage != current) {
                span_to(m.time);
                current = m.stage;
                since = m.time;
            }
        }
    }
    span_to(t);
    m_accountant->end(id, t, warmup);
    if (m_also) m_also->end(also, t);
    return id;
}

tlm_probe::tlm_probe(sc_core::sc_module_name name, hook h)
    : sc_module(name), in("in"), out("out"), m_hook(std::move(h)) {
    in.register_b_transport(this, &tlm_probe::b_transport);
    in.register_transport_dbg(this, &tlm_probe::transport_dbg);
}

void tlm_probe::b_transport(tlm::tlm_generic_payload& t, sc_core::sc_time& delay) {
    m_hook(t, now_ticks(delay), false);
    out->b_transport(t, delay);
    m_hook(t, now_ticks(delay), true);
}

frame_probe::frame_probe(sc_core::sc_module_name name, hook h)
    : sc_module(name), in("in"), out("out"), m_hook(std::move(h)) {
    in.bind(*this);
}

void frame_probe::deliver(const std::vector<std::uint8_t>& frame, tick_t arrival) {
    m_hook(frame, arrival);
    out->deliver(frame, arrival);
}

}  // namespace iovsim::platform
