import { defineMailModels } from "@mail/../tests/mail_test_helpers";
import { describe, expect, test } from "@odoo/hoot";
import { queryAllTexts, queryText } from "@odoo/hoot-dom";
import {
    contains,
    defineActions,
    defineModels,
    fields,
    getService,
    models,
    mountWebClient,
    onRpc,
} from "@web/../tests/web_test_helpers";

describe.current.tags("desktop");

class LifecycleDeadline extends models.Model {
    _name = "lifecycle.deadline";
    name = fields.Char();
    _records = [{ id: 7, name: "Hosting — Azure Interior" }];
    _views = {
        list: `<list><field name="name"/></list>`,
        form: `<form><field name="name"/></form>`,
        search: `<search/>`,
    };
}

class LifecycleReminderTrace extends models.Model {
    _name = "lifecycle.reminder.trace";
    workflow_id = fields.Char();
    _records = [{ id: 1, workflow_id: "Renewal reminder: 30 days before expiry" }];
    _views = { list: `<list><field name="workflow_id"/></list>`, search: `<search/>` };
}

defineMailModels();
defineModels([LifecycleDeadline, LifecycleReminderTrace]);
defineActions([
    {
        id: 40,
        xml_id: "subscription_lifecycle.lifecycle_reminder_trace_action",
        name: "Reminder analytics",
        res_model: "lifecycle.reminder.trace",
        views: [[false, "list"]],
    },
]);

function cockpitData({ todo = true } = {}) {
    return {
        currency_id: 1,
        today: "2027-03-31",
        upcoming: {
            more: true,
            rows: [
                {
                    id: 7,
                    customer: "Azure Interior",
                    service: "Hosting",
                    amount: 45,
                    currency_id: 2,
                    date_expiry: "2027-04-02",
                    days_left: 2,
                },
            ],
        },
        todo: {
            total: todo ? 1 : 0,
            callback_type_id: 4,
            rows: todo
                ? [
                      {
                          id: 31,
                          res_model: "lifecycle.deadline",
                          res_id: 7,
                          res_name: "Hosting — Azure Interior",
                          summary: "Call the customer back",
                          date_deadline: "2027-03-29",
                          days_late: 2,
                      },
                  ]
                : [],
        },
        kpis: [
            {
                key: "due",
                label: "Due in 30 days",
                help: "Active deadlines expiring from today to 29 days from now.",
                measure: "count",
                up_is_good: true,
                count: 3,
                amount: 350,
                value: 3,
                trend: { previous: 2, delta: 1, percent: 50 },
            },
            {
                key: "renewal_rate",
                label: "Renewal rate",
                help: "",
                measure: "rate",
                up_is_good: true,
                count: 1,
                amount: 400,
                value: 33.3,
                trend: { previous: 50, delta: -16.7, percent: -33 },
            },
            {
                key: "expired",
                label: "Expired without renewal",
                help: "",
                measure: "amount",
                up_is_good: false,
                count: 1,
                amount: 300,
                value: 300,
                trend: { previous: 0, delta: 300, percent: null },
            },
            {
                key: "failed_runs",
                label: "Failed workflow runs",
                help: "",
                measure: "count",
                up_is_good: false,
                count: 2,
                amount: 0,
                value: 2,
                trend: null,
            },
        ],
        funnel: { sent: 200, delivered: 190, clicked: 50, renewed: 30, median_days: 2.5 },
    };
}

async function openCockpit() {
    await mountWebClient();
    await getService("action").doAction({
        type: "ir.actions.client",
        tag: "subscription_lifecycle.cockpit",
        name: "Overview",
    });
}

test("shows each KPI with its trend, coloured by whether up is good", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => cockpitData());
    await openCockpit();
    expect(".o_lifecycle_kpi").toHaveCount(4);
    expect(queryAllTexts(".o_lifecycle_kpi_value")).toEqual([
        "3",
        "33.3 %",
        "$ 300.00",
        "2",
    ]);
    expect(".o_lifecycle_kpi[data-kpi=due] .o_lifecycle_kpi_detail").toHaveText("$ 350.00");
    expect(".o_lifecycle_kpi[data-kpi=due] .o_lifecycle_kpi_trend").toHaveText("+50% vs previous 30 days");
    expect(".o_lifecycle_kpi[data-kpi=due] .o_lifecycle_kpi_trend").toHaveClass("text-success");
    expect(".o_lifecycle_kpi[data-kpi=renewal_rate] .o_lifecycle_kpi_trend").toHaveText(
        "−16.7 pts vs previous 30 days"
    );
    expect(".o_lifecycle_kpi[data-kpi=renewal_rate] .o_lifecycle_kpi_trend").toHaveClass("text-danger");
    // more lost money is bad news, and a rise from nothing has no percentage
    expect(".o_lifecycle_kpi[data-kpi=expired] .o_lifecycle_kpi_trend").toHaveText(
        "was $ 0.00 in the previous 30 days"
    );
    expect(".o_lifecycle_kpi[data-kpi=expired] .o_lifecycle_kpi_trend").toHaveClass("text-danger");
    expect(".o_lifecycle_kpi[data-kpi=failed_runs] .o_lifecycle_kpi_trend").toHaveCount(0);
});

test("lists the upcoming renewals with days left and their own currency", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => cockpitData());
    await openCockpit();
    expect(".o_lifecycle_upcoming_all").toHaveText("More…");
    expect(queryAllTexts(".o_lifecycle_upcoming_row td").slice(0, 4)).toEqual([
        "Azure Interior",
        "Hosting",
        "45.00 €",
        "in 2 days",
    ]);
    expect(".o_lifecycle_days_left").toHaveClass("text-danger");
});

test("clicking a customer opens the deadline", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => cockpitData());
    await openCockpit();
    await contains(".o_lifecycle_upcoming_row .o_lifecycle_open").click();
    expect(".o_form_view").toHaveCount(1);
    expect(".o_field_widget[name=name] input").toHaveValue("Hosting — Azure Interior");
});

test("renewing asks first, then renews the expiry date on screen and reloads", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => {
        expect.step("load");
        return cockpitData();
    });
    onRpc("lifecycle.deadline", "action_renew", ({ args, kwargs }) => {
        expect.step(["renew", args[0], kwargs.context.lifecycle_expected_expiry]);
        return true;
    });
    await openCockpit();
    await contains(".o_lifecycle_renew").click();
    expect(".modal-body").toHaveText("Renew Hosting for Azure Interior for one more period?");
    expect.verifySteps(["load"]);
    await contains(".modal-footer .btn-primary").click();
    expect.verifySteps([["renew", [7], "2027-04-02"], "load"]);
});

test("marking a callback done sends the note and stays on the dashboard", async () => {
    let done = false;
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => cockpitData({ todo: !done }));
    onRpc("mail.activity", "action_feedback", ({ args, kwargs }) => {
        expect.step(["done", args[0], kwargs.feedback]);
        done = true;
        return false;
    });
    await openCockpit();
    expect(".o_lifecycle_todo_row").toHaveCount(1);
    expect(queryText(".o_lifecycle_todo_row")).toInclude("2 days late");
    await contains(".o_lifecycle_note").edit("Left a voicemail", { confirm: false });
    await contains(".o_lifecycle_done").click();
    expect.verifySteps([["done", [31], "Left a voicemail"]]);
    expect(".o_lifecycle_todo_row").toHaveCount(0);
    expect(".o_lifecycle_todo").toHaveText(/No callback due today/);
    expect(".o_lifecycle_cockpit").toHaveCount(1);
});

test("a KPI opens the list the server gives for it", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => cockpitData());
    onRpc("lifecycle.cockpit", "action_open_list", ({ args }) => {
        expect.step(["open", args[0]]);
        return {
            type: "ir.actions.act_window",
            name: "Due in 30 days",
            display_name: "Due in 30 days",
            res_model: "lifecycle.deadline",
            views: [[false, "list"]],
            domain: [["id", "=", 7]],
        };
    });
    await openCockpit();
    await contains(".o_lifecycle_kpi[data-kpi=due]").click();
    expect.verifySteps([["open", "due"]]);
    expect(".o_list_view .o_data_row").toHaveCount(1);
    expect(".o_breadcrumb").toHaveText("Overview\nDue in 30 days");
});

test("shows the reminders' funnel and opens reminder analytics", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => cockpitData());
    await openCockpit();
    expect(queryAllTexts(".o_lifecycle_funnel_count")).toEqual([
        "200",
        "190 (95 %)",
        "50 (25 %)",
        "30 (15 %)",
    ]);
    expect(".o_lifecycle_funnel_stage[data-stage=clicked] .progress-bar").toHaveAttribute(
        "style",
        "width: 25%"
    );
    expect(".o_lifecycle_funnel_median").toHaveText("Median time from reminder to renewal: 2.5 days");
    await contains(".o_lifecycle_funnel_open").click();
    expect(".o_breadcrumb").toHaveText("Overview\nReminder analytics");
});

test("hides the funnel from who may not read reminder analytics", async () => {
    onRpc("lifecycle.cockpit", "get_cockpit_data", () => ({ ...cockpitData(), funnel: null }));
    await openCockpit();
    expect(".o_lifecycle_funnel").toHaveCount(0);
});
