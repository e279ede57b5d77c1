"""Transport: ship cases from plants to markets at least cost (GAMS "trnsport").

Minimise  sum_{p,m} cost[p,m] * ship[p,m]   where cost = freight * distance / 1000 (k$/case)
subject to  sum_m ship[p,m] <= capacity[p]   for each plant
            sum_p ship[p,m] >= demand[m]     for each market
            ship >= 0
With the default data the optimal total cost is 153.675 k$.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highspy

from modelport.appkit import App, Context, button, chart, scalar, table, text

app = App(name="transport", title="Transport")

plants = app.set("plants", title="Canning plants")
markets = app.set("markets", title="Markets")
capacity = app.parameter("capacity", plants, unit="cases", lower=0, required=True)
demand = app.parameter("demand", markets, unit="cases", lower=0, required=True)
distance = app.parameter(
    "distance", [plants, markets], unit="thousand miles", lower=0, required=True
)
freight = app.parameter("freight", unit="$/case/thousand miles", lower=0, default=90.0)

shipment = app.result("shipment", [plants, markets], unit="cases", lower=0)
total_cost = app.result("total_cost", unit="k$", title="Total transport cost")
status = app.result("status", type="string", title="Solver status")


@app.procedure(kind="solve", title="Find the cheapest shipments")
def solve(ctx: Context) -> dict[str, Any]:
    """Build the LP, solve it with HiGHS and return shipments and total cost."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    ctx.progress(0.1, "building the model")
    cost_per_case = ctx["freight"] / 1000.0
    ship = {
        (p, m): h.addVariable(lb=0, obj=cost_per_case * ctx["distance"][p, m])
        for p in ctx["plants"]
        for m in ctx["markets"]
    }
    for p in ctx["plants"]:
        h.addConstr(sum(ship[p, m] for m in ctx["markets"]) <= ctx["capacity"][p])
    for m in ctx["markets"]:
        h.addConstr(sum(ship[p, m] for p in ctx["plants"]) >= ctx["demand"][m])
    ctx.progress(0.3, "solving")
    h.run()
    model_status = h.modelStatusToString(h.getModelStatus())
    ctx.log(f"HiGHS: {model_status}")
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        ctx.progress(1.0, model_status)
        return {"status": model_status}
    values = {key: h.val(var) for key, var in ship.items()}
    objective = h.getInfo().objective_function_value
    ctx.progress(1.0, "optimal", incumbent=objective, bound=objective)
    return {
        "shipment": {key: v for key, v in values.items() if v > 1e-9},
        "total_cost": objective,
        "status": model_status,
    }


app.page(
    "plan",
    "Plan",
    [
        text("Plants ship cases to markets; freight costs are per case and thousand miles. "
             "Change the data, then press **Solve**."),
        table(demand, "Market demand"),
        table(capacity, "Plant capacity"),
        table(distance, "Distance", columns=plants),
        scalar(freight, "Freight"),
        button(solve, "Solve"),
        table(total_cost, editable=False),
        chart(shipment, "bar", x=markets, title="Cases shipped per market (by plant)"),
    ],
)
app.page(
    "shipments",
    "Shipments",
    [
        table(status, editable=False),
        table(shipment, "Shipments per route", editable=False, columns=markets),
        chart(shipment, "bar", x=plants, title="Cases shipped per plant (by market)"),
    ],
)
app.defaults(Path(__file__).with_name("data.json"))
