import { Component, onWillStart, useState } from "@odoo/owl";
import { ConfirmationDialog } from "@web/core/confirmation_dialog/confirmation_dialog";
import { formatCurrency } from "@web/core/currency";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { formatFloat } from "@web/core/utils/numbers";
import { Layout } from "@web/search/layout";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";

/**
 * The Lifecycle app's landing page: KPIs, the deadlines about to expire and
 * my callbacks of the day, all read in one call to `lifecycle.cockpit`.
 */
export class LifecycleCockpit extends Component {
    static template = "subscription_lifecycle.Cockpit";
    static components = { Layout };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.dialog = useService("dialog");
        this.notification = useService("notification");
        this.state = useState({ data: null, notes: {} });
        onWillStart(() => this.load());
    }

    async load() {
        this.state.data = await this.orm.call("lifecycle.cockpit", "get_cockpit_data", []);
    }

    // ------------------------------------------------------------------
    // Formatting
    // ------------------------------------------------------------------

    amount(value, currencyId = this.state.data.currency_id) {
        return formatCurrency(value, currencyId);
    }

    kpiValue(kpi) {
        if (kpi.measure === "rate") {
            return kpi.value === null ? "—" : `${formatFloat(kpi.value, { digits: [0, 1] })} %`;
        }
        return kpi.measure === "amount" ? this.amount(kpi.value) : String(kpi.value);
    }

    kpiDetail(kpi) {
        if (kpi.measure === "rate") {
            return _t("%(count)s renewed", { count: kpi.count });
        }
        return kpi.measure === "count" && kpi.amount ? this.amount(kpi.amount) : "";
    }

    trendText(kpi) {
        const { delta, percent, previous } = kpi.trend;
        if (kpi.measure === "rate") {
            const points = formatFloat(Math.abs(delta), { digits: [0, 1] });
            return _t("%(sign)s%(points)s pts vs previous 30 days", { sign: this.sign(delta), points });
        }
        if (percent === null) {
            const was = kpi.measure === "amount" ? this.amount(previous) : String(previous);
            return _t("was %(previous)s in the previous 30 days", { previous: was });
        }
        return _t("%(change)s vs previous 30 days", {
            change: `${this.sign(delta)}${Math.abs(percent)}%`,
        });
    }

    sign(delta) {
        return delta > 0 ? "+" : delta < 0 ? "−" : "±";
    }

    trendClass(kpi) {
        const delta = kpi.trend.delta;
        if (!delta) {
            return "text-muted";
        }
        return delta > 0 === kpi.up_is_good ? "text-success" : "text-danger";
    }

    daysLeft(row) {
        if (row.days_left === 0) {
            return _t("today");
        }
        return row.days_left === 1
            ? _t("tomorrow")
            : _t("in %(days)s days", { days: row.days_left });
    }

    lateness(activity) {
        if (activity.days_late === 0) {
            return _t("today");
        }
        return _t("%(days)s days late", { days: activity.days_late });
    }

    /**
     * Sent, delivered, clicked, renewed: each with its share of the reminders sent.
     */
    funnelStages() {
        const funnel = this.state.data.funnel;
        const labels = {
            sent: _t("Sent"),
            delivered: _t("Delivered"),
            clicked: _t("Clicked"),
            renewed: _t("Renewed"),
        };
        return Object.entries(labels).map(([key, label]) => {
            const share = funnel.sent ? (100 * funnel[key]) / funnel.sent : 0;
            const percent = formatFloat(share, { digits: [0, 1], trailingZeros: false });
            return {
                key,
                label,
                share,
                text: key === "sent" ? String(funnel.sent) : `${funnel[key]} (${percent} %)`,
            };
        });
    }

    medianDays() {
        return _t("%(days)s days", {
            days: formatFloat(this.state.data.funnel.median_days, {
                digits: [0, 1],
                trailingZeros: false,
            }),
        });
    }

    // ------------------------------------------------------------------
    // Actions
    // ------------------------------------------------------------------

    async openList(key) {
        const action = await this.orm.call("lifecycle.cockpit", "action_open_list", [key]);
        await this.action.doAction(action);
    }

    openReminderAnalytics() {
        return this.action.doAction("subscription_lifecycle.lifecycle_reminder_trace_action");
    }

    openRecord(resModel, resId) {
        return this.action.doAction({
            type: "ir.actions.act_window",
            res_model: resModel,
            res_id: resId,
            views: [[false, "form"]],
        });
    }

    renew(row) {
        this.dialog.add(ConfirmationDialog, {
            title: _t("Renew"),
            body: _t("Renew %(service)s for %(customer)s for one more period?", {
                service: row.service,
                customer: row.customer,
            }),
            confirmLabel: _t("Renew"),
            confirm: async () => {
                await this.orm.call("lifecycle.deadline", "action_renew", [[row.id]], {
                    // refused if someone renewed it since this page was read
                    context: { lifecycle_expected_expiry: row.date_expiry },
                });
                this.notification.add(_t("%(service)s renewed.", { service: row.service }), {
                    type: "success",
                });
                await this.load();
            },
            cancel: () => {},
        });
    }

    logCallback(row) {
        return this.action.doAction(
            {
                type: "ir.actions.act_window",
                name: _t("Log a callback"),
                res_model: "mail.activity.schedule",
                views: [[false, "form"]],
                target: "new",
                context: {
                    active_model: "lifecycle.deadline",
                    active_ids: [row.id],
                    active_id: row.id,
                    default_activity_type_id: this.state.data.todo.callback_type_id,
                },
            },
            { onClose: () => this.load() }
        );
    }

    async markDone(activity) {
        await this.orm.call("mail.activity", "action_feedback", [[activity.id]], {
            feedback: this.state.notes[activity.id] || false,
        });
        delete this.state.notes[activity.id];
        this.notification.add(_t("Callback done."), { type: "success" });
        await this.load();
    }
}

registry.category("actions").add("subscription_lifecycle.cockpit", LifecycleCockpit);
