#include "models/cpu/vcpu.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>

#include "models/core/sc_glue.h"
#include "models/core/trace_extension.h"
#include "models/pcie/tlp.h"

namespace iovsim::cpu {

namespace {

constexpr std::uint64_t cache_line = 64;

std::uint64_t all_ones(unsigned size) {
    return size >= 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1;
}

vcpu_state state_of(core::stage s) {
    switch (s) {
        case core::stage::exit:
            return vcpu_state::exit;
        case core::stage::vmm:
            return vcpu_state::vmm;
        default:
            return vcpu_state::kvm;
    }
}

}  // namespace

vcpu::vcpu(sc_core::sc_module_name name, kvm& k, const vcpu_params& p)
    : sc_module(name),
      socket("socket"),
      m_kvm(k),
      m_params(p),
      m_mode(k.interrupts(p.vm)),
      m_wait(k.wait(p.vm)) {
    m_global = k.attach(*this, p.vm, m_index);
    m_core = k.config().vcpu_core(m_global);
    m_thread = k.scheduler().add_thread(basename(), m_core);
    if (m_mode == delivery_mode::posted) {
        m_pid = std::make_unique<posted_interrupt_descriptor>(k.pi_memory(), p.pi_descriptor);
        m_pid->init(posted_intr_vector, ndst_for(m_core, k.config().x2apic));
        load_descriptor();
    }
    SC_HAS_PROCESS(vcpu);
    SC_THREAD(thread);
}

void vcpu::set_tracer(const core::tracer& t) {
    m_tracer = t;
    m_state_signal = m_tracer.declare_signal("state", 3);
    m_irq_signal = m_tracer.declare_signal("irq", 1);
    m_irr_signal = m_tracer.declare_signal("irr", 8);
    m_isr_signal = m_tracer.declare_signal("isr", 8);
    // Known values from the start, not GTKWave's x.
    const tick_t now = now_ticks();
    m_tracer.change(now, m_irq_signal, 0);
    m_tracer.change(now, m_irr_signal, 0);
    m_tracer.change(now, m_isr_signal, 0);
}

void vcpu::load_descriptor() {
    m_pid->vcpu_load(ndst_for(m_core, m_kvm.config().x2apic), posted_intr_vector);
}

void vcpu::trace_irq(tick_t t) {
    if (!m_tracer.enabled()) return;
    std::uint8_t irr = m_apic.highest_irr().value_or(0);
    if (m_pid) irr = std::max(irr, m_pid->highest_pir().value_or(0));
    const std::uint8_t isr = m_apic.highest_isr().value_or(0);
    const bool was = m_traced_irr != 0 || m_traced_isr != 0;
    const bool is = irr != 0 || isr != 0;
    if (irr != m_traced_irr) m_tracer.change(t, m_irr_signal, irr);
    if (isr != m_traced_isr) m_tracer.change(t, m_isr_signal, isr);
    if (is != was) m_tracer.change(t, m_irq_signal, is ? 1 : 0);
    m_traced_irr = irr;
    m_traced_isr = isr;
}

tick_t vcpu::time() const { return now_ticks(m_qk.get_local_time()); }

void vcpu::thread() {
    m_qk.reset();
    try {
        if (m_program) m_program(*this);
        flush();
    } catch (const std::exception& e) {
        m_failure = e.what();
    }
    m_finished = true;
}

// --- interrupts arriving (from KVM, never waits) ---

void vcpu::inject(std::uint8_t vector, tick_t at) {
    at = std::max(at, now_ticks());
    m_pending.emplace(at, arrival{arrival::kind::inject, vector});
    m_arrived.emplace(vector, at);  // keeps the first arrival of a vector not yet delivered
    arm();
}

void vcpu::notify(std::uint8_t notification_vector, tick_t at) {
    at = std::max(at, now_ticks());
    m_pending.emplace(at, arrival{arrival::kind::notify, notification_vector});
    arm();
}

void vcpu::arm() {
    if (m_pending.empty()) return;
    const tick_t now = now_ticks();
    const tick_t first = m_pending.begin()->first;
    m_irq_event.notify(to_sc_time(first > now ? first - now : 0));
}

void vcpu::take_arrivals() {
    const tick_t now = now_ticks();
    while (!m_pending.empty() && m_pending.begin()->first <= now) {
        const auto it = m_pending.begin();
        const tick_t at = it->first;
        const arrival a = it->second;
        m_pending.erase(it);
        handle(a, at);
    }
    arm();
}

void vcpu::handle(const arrival& a, tick_t at) {
    bool notified = a.what == arrival::kind::notify;
    if (a.what == arrival::kind::inject) {
        if (m_mode == delivery_mode::posted) {
            // KVM posts it in software and sends the notification NV names, if any.
            const auto note = m_pid->post(a.vector);
            notified = note.has_value();
            if (note) m_kvm.trace_notification(m_core, note->vector, at);
        } else {
            m_apic.accept(a.vector);
            trace_irq(at);
            if (m_halted) {
                if (!m_woken) m_woken_at = at;
                m_woken = true;
            } else if (m_state == vcpu_state::guest) {
                // KVM kicks the running vCPU: EXTERNAL_INTERRUPT exit, injection at entry.
                const exit_path p = m_kvm.costs().path(exit_reason::external_interrupt);
                m_kvm.count_exit(exit_reason::external_interrupt, p.total());
                ++m_exits_by_reason[static_cast<std::size_t>(exit_reason::external_interrupt)];
                ++m_exits;
                charge_path(at, p, 0);
                m_extra += p.total();
                deliver(at + p.total());
            }
            return;  // out of guest mode: injected at the next entry
        }
    }
    // A request processed at once is traced on its delivery; any other is now pending in PIR.
    if (!(notified && !m_halted && m_state == vcpu_state::guest)) trace_irq(at);
    if (!notified) return;  // ON already set: the first notification's sync takes it
    m_last_notify = at;
    if (m_halted) {
        if (!m_woken) m_woken_at = at;
        m_woken = true;
    } else if (m_state == vcpu_state::guest) {
        // The CPU processes the notification in guest mode: PIR -> virtual IRR, no exit.
        m_pid->sync_to_irr(m_apic);
        deliver(at);
    }
}

void vcpu::deliver(tick_t t) {
    while (const auto v = m_apic.deliver()) {
        m_taken.push_back(*v);
        tick_t arrived = m_last_notify;
        if (const auto it = m_arrived.find(*v); it != m_arrived.end()) {
            arrived = it->second;
            m_arrived.erase(it);
        }
        m_kvm.count_delivery(m_mode, t > arrived ? t - arrived : 0);
    }
    trace_irq(t);
}

void vcpu::enter_guest(tick_t t) {
    if (m_mode == delivery_mode::posted) m_pid->sync_to_irr(m_apic);
    deliver(t);
    set_state(vcpu_state::guest, t);
}

bool vcpu::taken(std::uint8_t vector) {
    for (auto it = m_taken.begin(); it != m_taken.end(); ++it) {
        if (*it == vector) {
            m_taken.erase(it);
            return true;
        }
    }
    return false;
}

void vcpu::set_state(vcpu_state s, tick_t t) {
    m_state = s;
    m_tracer.change(t, m_state_signal, static_cast<std::uint64_t>(s));
}

// --- time on the host core ---

void vcpu::wait_until(tick_t t) {
    take_arrivals();
    while (now_ticks() < t) {
        sc_core::wait(to_sc_time(t - now_ticks()), m_irq_event);
        take_arrivals();
    }
}

tick_t vcpu::run_on_core(tick_t work, vcpu_state st, bool wakes, vcpu_state waiting) {
    const tick_t start = now_ticks();
    tick_t done_work = 0;
    bool first = true;
    while (work > 0) {
        const tick_t at = now_ticks();
        set_state(st, at);
        host_scheduler& s = m_kvm.scheduler();
        const std::uint64_t wakeups = s.stats(m_thread).wakeups;
        const job_id j = wakes && first ? s.wake(m_thread, at, work) : s.submit(m_thread, at, work);
        const tick_t runnable =
            at + (s.stats(m_thread).wakeups > wakeups ? s.wakeup_latency() : tick_t{0});
        if (s.start(j) > runnable) {
            // Another thread holds the core: preempted (vcpu_put: SN set) until sched-in.
            wait_until(runnable);
            if (m_pid) m_pid->vcpu_put_preempted();
            set_state(vcpu_state::preempted, runnable);
            for (tick_t in = s.start(j); in > now_ticks(); in = s.start(j)) wait_until(in);
            if (m_pid) load_descriptor();
            if (st == vcpu_state::guest) {
                enter_guest(now_ticks());  // PIR -> vIRR, and what came meanwhile is delivered
            } else {
                set_state(st, now_ticks());
            }
        }
        for (;;) {
            const tick_t c = s.completion(j);
            if (c <= now_ticks()) break;
            wait_until(c);
        }
        s.release(j);
        done_work += work;
        first = false;
        // Interrupt exits taken while in guest mode run after it on the core (their cost and
        // delivery were charged when they came).
        work = m_extra;
        m_extra = 0;
        st = vcpu_state::exit;
    }
    const tick_t end = now_ticks();
    m_state_ticks[static_cast<std::size_t>(waiting)] += end - start - done_work;
    if (st == vcpu_state::exit && !first && done_work > 0) enter_guest(end);
    return end;
}

void vcpu::flush() {
    const tick_t local = to_ticks(m_qk.get_local_time());
    m_qk.set(sc_core::SC_ZERO_TIME);
    if (local > 0) {
        m_state_ticks[static_cast<std::size_t>(vcpu_state::guest)] += local;
        run_on_core(local, vcpu_state::guest);
    } else {
        take_arrivals();
    }
    m_qk.reset();
}

void vcpu::charge_path(tick_t start, const exit_path& p, tick_t extra, vcpu_state extra_state) {
    core::accountant* acc = m_kvm.accountant();
    const bool account = acc && m_packet != core::no_packet && acc->is_in_flight(m_packet);
    const bool mark = m_kvm.marker() && m_packet != core::no_packet;
    const auto hand_off = [&](tick_t t, core::stage s) {
        if (account) acc->hand_off(m_packet, t, s);
        if (mark) m_kvm.marker()(m_params.vm, t, s, true);
    };
    tick_t t = start;
    for (std::size_t i = 0; i < p.size; ++i) {
        const exit_step& s = p.steps[i];
        if (i + 1 == p.size && extra > 0) {  // the device model runs before the VM entry
            hand_off(t, extra_state == vcpu_state::vmm ? core::stage::vmm : core::stage::kvm);
            m_state_ticks[static_cast<std::size_t>(extra_state)] += extra;
            t += extra;
        }
        hand_off(t, s.stage);
        m_state_ticks[static_cast<std::size_t>(state_of(s.stage))] += s.ticks;
        t += s.ticks;
    }
    hand_off(t, core::stage::guest);
}

tick_t vcpu::exit_op(exit_reason r, const exit_path& p, tick_t extra, vcpu_state extra_state) {
    const tick_t total = p.total() + extra;
    m_kvm.count_exit(r, total);
    ++m_exits_by_reason[static_cast<std::size_t>(r)];
    ++m_exits;
    const tick_t end = run_on_core(total, vcpu_state::exit);
    charge_path(end - total, p, extra, extra_state);
    enter_guest(end);
    return end;
}

// --- guest_context ---

void vcpu::compute(std::uint64_t cycles) {
    flush();
    const tick_t work = m_kvm.costs().cycles(static_cast<double>(cycles));
    m_state_ticks[static_cast<std::size_t>(vcpu_state::guest)] += work;
    run_on_core(work, vcpu_state::guest);
    m_qk.reset();
}

void vcpu::hypercall() {
    flush();
    exit_op(exit_reason::vmcall, m_kvm.costs().path(exit_reason::vmcall));
    m_qk.reset();
}

void vcpu::eoi() {
    flush();
    if (m_mode == delivery_mode::exit) {
        // Without APICv the EOI write to the APIC page exits; KVM clears the ISR bit.
        m_apic.eoi();
        trace_irq(now_ticks());
        exit_op(exit_reason::apic_access, m_kvm.costs().path(exit_reason::apic_access));
    } else {
        m_apic.eoi();          // virtual EOI: no exit; the next pending vector is delivered at once
        deliver(now_ticks());  // traces the ISR change too
    }
    m_qk.reset();
}

bool vcpu::guest_memory(tlm::tlm_command cmd, std::uint64_t gpa, void* data, std::uint32_t len) {
    std::uint64_t hpa = 0;
    if (len == 0) return true;
    if (!m_kvm.vm_ept(m_params.vm).ram_hpa(gpa, len, hpa)) {
        ++m_bad_accesses;
        return false;
    }
    tlm::tlm_generic_payload t;
    set_request(t, cmd, hpa, static_cast<unsigned char*>(data), len);
    if (socket->transport_dbg(t) < len) {
        ++m_bad_accesses;
        return false;
    }
    const std::uint64_t lines = (gpa + len - 1) / cache_line - gpa / cache_line + 1;
    m_qk.inc(
        to_sc_time(m_kvm.costs().cycles(static_cast<double>(lines * m_params.mem_access_cycles))));
    if (m_qk.need_sync()) flush();
    return true;
}

void vcpu::read(std::uint64_t gpa, void* dst, std::uint32_t len) {
    if (!guest_memory(tlm::TLM_READ_COMMAND, gpa, dst, len)) std::memset(dst, 0xff, len);
}

void vcpu::write(std::uint64_t gpa, const void* src, std::uint32_t len) {
    guest_memory(tlm::TLM_WRITE_COMMAND, gpa, const_cast<void*>(src), len);
}

std::uint64_t vcpu::mmio(tlm::tlm_command cmd, std::uint64_t gpa, std::uint64_t value,
                         unsigned size) {
    const bool is_write = cmd == tlm::TLM_WRITE_COMMAND;
    unsigned char b[8] = {};
    for (unsigned i = 0; i < size; ++i) b[i] = static_cast<unsigned char>(value >> (8 * i));
    const auto from_bytes = [&] {
        std::uint64_t v = 0;
        for (unsigned i = 0; i < size; ++i) v |= std::uint64_t{b[i]} << (8 * i);
        return v;
    };
    const gpa_translation tr = m_kvm.vm_ept(m_params.vm).translate(gpa, size);
    switch (tr.kind) {
        case gpa_kind::ram:
            if (!guest_memory(cmd, gpa, b, size)) return all_ones(size);
            return from_bytes();
        case gpa_kind::passthrough: {
            tlm::tlm_generic_payload t;
            set_request(t, cmd, tr.hpa, b, size);
            pcie::tlp_extension tlp;
            tlp.vm_id = static_cast<std::int32_t>(m_params.vm);
            tlp.vcpu_id = static_cast<std::int32_t>(m_index);
            core::trace_extension trace(core::trace_context{m_packet, core::stage::guest});
            t.set_extension(&tlp);
            t.set_extension(&trace);
            sc_core::sc_time delay = m_qk.get_local_time();
            socket->b_transport(t, delay);
            t.clear_extension(&tlp);
            t.clear_extension(&trace);
            m_qk.set(delay);  // the stall is guest time on the core, handed over at the sync
            const bool ok = t.is_response_ok();
            if (!ok) ++m_mmio_errors;
            if (m_qk.need_sync()) flush();
            return ok || is_write ? from_bytes() : all_ones(size);
        }
        case gpa_kind::trapped:
        case gpa_kind::emulated:
        case gpa_kind::unmapped: {
            kvm::handler_ref h;
            if (tr.kind != gpa_kind::unmapped) {
                h = m_kvm.mmio_handler_for(m_params.vm, tr.region);
                h.offset = tr.offset;
            }
            eventfd* fd = is_write ? m_kvm.ioeventfd_for(m_params.vm, false, gpa, value) : nullptr;
            return trapped(false, is_write, h, fd, value, size);
        }
    }
    return all_ones(size);
}

std::uint64_t vcpu::trapped(bool pio, bool is_write, const kvm::handler_ref& h, eventfd* fd,
                            std::uint64_t value, unsigned size) {
    flush();
    const exit_reason r = pio ? exit_reason::io_instruction : exit_reason::ept_misconfig;
    const exit_handler where =
        fd ? exit_handler::ioeventfd : (h.handler ? h.where : exit_handler::vmm);
    const exit_path p = m_kvm.costs().path(r, where);
    // KVM (or the VMM) handles the access after every step but the VM entry.
    const tick_t handled_at = now_ticks() + p.total() - p.steps[p.size - 1].ticks;
    std::uint64_t result = is_write ? value : all_ones(size);
    tick_t extra = 0;
    if (fd) {
        const tick_t signalled = handled_at + m_kvm.costs().ioeventfd_notify();
        fd->signal(signalled);
        if (m_kvm.marker() && m_packet != core::no_packet && fd->handoff())
            m_kvm.marker()(m_params.vm, signalled, *fd->handoff(),
                           false);  // the waiter has the packet
    } else if (h.handler) {
        std::uint64_t v = 0;
        const std::uint64_t cycles = is_write ? h.handler->write(h.offset, size, value, handled_at)
                                              : h.handler->read(h.offset, size, v, handled_at);
        if (!is_write) result = v & all_ones(size);
        extra = m_kvm.costs().cycles(static_cast<double>(cycles));
    } else {
        ++m_unhandled;  // the VMM finds no device there: reads all ones, writes dropped
    }
    exit_op(r, p, extra, where == exit_handler::kvm ? vcpu_state::kvm : vcpu_state::vmm);
    m_qk.reset();
    return result;
}

std::uint32_t vcpu::mmio_read32(std::uint64_t gpa) {
    return static_cast<std::uint32_t>(mmio(tlm::TLM_READ_COMMAND, gpa, 0, 4));
}

void vcpu::mmio_write32(std::uint64_t gpa, std::uint32_t value) {
    mmio(tlm::TLM_WRITE_COMMAND, gpa, value, 4);
}

void vcpu::mmio_write64(std::uint64_t gpa, std::uint64_t value) {
    mmio(tlm::TLM_WRITE_COMMAND, gpa, value, 8);
}

namespace {
void check_pio_size(unsigned size) {
    if (size != 1 && size != 2 && size != 4)
        throw std::invalid_argument("vcpu: port I/O is 1, 2 or 4 bytes");
}
}  // namespace

std::uint32_t vcpu::pio_in(std::uint16_t port, unsigned size) {
    check_pio_size(size);
    const kvm::handler_ref h = m_kvm.pio_handler_for(m_params.vm, port);
    return static_cast<std::uint32_t>(trapped(true, false, h, nullptr, 0, size));
}

void vcpu::pio_out(std::uint16_t port, unsigned size, std::uint32_t value) {
    check_pio_size(size);
    const kvm::handler_ref h = m_kvm.pio_handler_for(m_params.vm, port);
    eventfd* fd = m_kvm.ioeventfd_for(m_params.vm, true, port, value);
    trapped(true, true, h, fd, value, size);
}

// --- waiting for an interrupt ---

void vcpu::wait_for_interrupt(std::uint8_t vector) {
    flush();
    for (;;) {
        take_arrivals();
        if (taken(vector)) break;
        if (m_wait == wait_mode::poll) {
            spin();
        } else {
            halt();
        }
    }
    m_qk.reset();
}

void vcpu::spin() {
    // The guest spins in guest mode: arrivals are handled as they come (an exit in exit and
    // apicv mode, none with posted interrupts).
    const tick_t start = now_ticks();
    set_state(vcpu_state::guest, start);
    m_spinning = true;
    m_spin_since = start;
    while (m_extra == 0 && m_taken.empty()) {
        sc_core::wait(m_irq_event);
        take_arrivals();
    }
    m_spinning = false;
    m_state_ticks[static_cast<std::size_t>(vcpu_state::guest)] += now_ticks() - start;
    if (m_extra > 0) {
        const tick_t e = m_extra;
        m_extra = 0;
        const tick_t from = now_ticks();
        const tick_t done = run_on_core(e, vcpu_state::exit);
        if (m_kvm.marker() && m_packet != core::no_packet) {
            m_kvm.marker()(m_params.vm, from, core::stage::exit,
                           true);  // the interrupt exits taken while spinning
            m_kvm.marker()(m_params.vm, done, core::stage::guest, true);
        }
        enter_guest(now_ticks());
    }
}

void vcpu::halt() {
    const exit_costs& costs = m_kvm.costs();
    const exit_path p = costs.path(exit_reason::hlt);
    const tick_t entry = p.steps[p.size - 1].ticks;
    const tick_t to_kvm = p.total() - entry;  // exit + KVM's HLT handling
    m_kvm.count_exit(exit_reason::hlt, p.total());
    ++m_exits_by_reason[static_cast<std::size_t>(exit_reason::hlt)];
    ++m_exits;
    for (const exit_step& s : p)
        m_state_ticks[static_cast<std::size_t>(state_of(s.stage))] += s.ticks;
    // An external-interrupt exit still owed when the guest halted runs after KVM's HLT handling
    // and its entry delivers that interrupt: then the vCPU must not sleep (it was interrupted).
    const std::size_t taken_before = m_taken.size();
    run_on_core(to_kvm, vcpu_state::kvm);
    // That exit's entry left the state at guest: the vCPU is still in KVM's HLT handling, where
    // an arrival is accepted, not a reason for an EXTERNAL_INTERRUPT exit.
    if (m_state == vcpu_state::guest) set_state(vcpu_state::kvm, now_ticks());
    take_arrivals();
    const tick_t halted_at = now_ticks();
    const bool pending = m_taken.size() > taken_before || m_apic.deliverable().has_value() ||
                         (m_pid && !m_pid->pir_empty());
    bool slept = false;
    if (!pending) {
        m_halted = true;
        m_halted_since = halted_at;
        m_woken = false;
        set_state(vcpu_state::halted, halted_at);
        const tick_t poll_end = halted_at + m_kvm.config().halt_poll;
        while (!m_woken && now_ticks() < poll_end) {
            sc_core::wait(to_sc_time(poll_end - now_ticks()), m_irq_event);
            take_arrivals();
        }
        if (m_woken && m_woken_at < poll_end) {
            ++m_poll_hits;  // halt polling caught it: the thread never slept
        } else {
            // The poll window closed: the thread blocks; a posted interrupt now wakes it.
            slept = true;
            ++m_sleeps;
            if (m_pid) m_pid->block(posted_intr_wakeup_vector);
            while (!m_woken) {
                sc_core::wait(m_irq_event);
                take_arrivals();
            }
        }
        m_halted = false;
        if (m_pid) load_descriptor();
        m_state_ticks[static_cast<std::size_t>(vcpu_state::halted)] += now_ticks() - halted_at;
    }
    // VM entry; after a sleep the scheduler adds the wake-up (counted as halted time).
    const tick_t woke = now_ticks();
    const tick_t entered = run_on_core(entry, vcpu_state::exit, slept, vcpu_state::halted);
    if (m_kvm.marker() && m_packet != core::no_packet) {
        // On the packet's path: KVM's wake-up (and the scheduler's) from the moment the vCPU
        // thread saw the interrupt, then the VM entry.
        m_kvm.marker()(m_params.vm, woke, core::stage::kvm, true);
        m_kvm.marker()(m_params.vm, entered - entry, core::stage::exit, true);
        m_kvm.marker()(m_params.vm, entered, core::stage::guest, true);
    }
    enter_guest(now_ticks());
}

}  // namespace iovsim::cpu
