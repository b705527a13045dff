#include "models/cpu/lapic.h"

namespace iovsim::cpu {

const char* to_string(delivery_mode m) {
    switch (m) {
        case delivery_mode::exit:
            return "exit";
        case delivery_mode::apicv:
            return "apicv";
        case delivery_mode::posted:
            return "posted";
    }
    return "unknown";
}

std::optional<delivery_mode> parse_delivery_mode(std::string_view text) {
    for (delivery_mode m : {delivery_mode::exit, delivery_mode::apicv, delivery_mode::posted})
        if (text == to_string(m)) return m;
    return std::nullopt;
}

std::vector<exit_reason> interrupt_exits(delivery_mode m, vcpu_activity a) {
    const bool running = a == vcpu_activity::running;
    switch (m) {
        case delivery_mode::exit:
            if (running) return {exit_reason::external_interrupt, exit_reason::apic_access};
            return {exit_reason::apic_access};
        case delivery_mode::apicv:
            if (running) return {exit_reason::external_interrupt};
            return {};
        case delivery_mode::posted:
            return {};
    }
    return {};
}

std::optional<std::uint8_t> lapic::highest(const bits256& b) {
    for (int w = 3; w >= 0; --w) {
        if (b[w] != 0) return static_cast<std::uint8_t>(w * 64 + 63 - __builtin_clzll(b[w]));
    }
    return std::nullopt;
}

bool lapic::accept(std::uint8_t vector) {
    if (vector < first_legal_vector) {
        ++m_illegal;
        return false;
    }
    set(m_irr, vector);
    ++m_accepted;
    return true;
}

std::uint8_t lapic::ppr() const {
    const auto isrv = highest_isr();
    const unsigned isr_class = isrv ? (*isrv >> 4) : 0;
    if ((m_tpr >> 4) >= isr_class) return m_tpr;
    return static_cast<std::uint8_t>(isr_class << 4);
}

std::optional<std::uint8_t> lapic::deliverable() const {
    const auto v = highest_irr();
    if (!v || (*v >> 4) <= (ppr() >> 4)) return std::nullopt;
    return v;
}

std::optional<std::uint8_t> lapic::deliver() {
    const auto v = deliverable();
    if (!v) return std::nullopt;
    clear(m_irr, *v);
    set(m_isr, *v);
    ++m_delivered;
    return v;
}

std::optional<std::uint8_t> lapic::eoi() {
    const auto v = highest_isr();
    if (!v) {
        ++m_spurious_eois;
        return std::nullopt;
    }
    clear(m_isr, *v);
    return v;
}

}  // namespace iovsim::cpu
