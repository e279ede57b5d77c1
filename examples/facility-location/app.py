"""Capacitated facility location, solved with HiGHS, reporting progress as it goes.

Open some facilities (fixed cost each, limited capacity) and serve every customer's demand
from the open ones at least total cost (fixed + demand * distance * unit cost):

    min  sum_f fixed[f] open[f] + sum_{f,c} unit_cost * demand[c] * dist[f,c] * serve[f,c]
    s.t. sum_f serve[f,c] = 1                              for each customer
         sum_c demand[c] serve[f,c] <= capacity[f] open[f]  for each facility
         0 <= serve <= 1, open binary

The default data is generated from a seed (``generate``); with it HiGHS needs several seconds
on one core. The solve reports progress from HiGHS's MIP callbacks and stops, keeping the best
solution found, when ``ctx.should_stop()`` turns true. Every improving solution is saved as a
checkpoint (``ctx.checkpoint``); a re-run of a lost job gets the newest as
``ctx.start_solution`` and hands it to HiGHS as its start solution (and says so in its log).
"""

from __future__ import annotations

from typing import Any

import highspy
import numpy as np

from modelport.appkit import App, Context, button, chart, scalar, table, text

app = App(name="facility-location", title="Facility location")

facilities = app.set("facilities", title="Candidate facilities")
customers = app.set("customers", title="Customers")
fx = app.parameter("fx", facilities, unit="km", required=True, title="Facility x")
fy = app.parameter("fy", facilities, unit="km", required=True, title="Facility y")
capacity = app.parameter("capacity", facilities, unit="units", lower=0, required=True)
fixed_cost = app.parameter("fixed_cost", facilities, unit="$", lower=0, required=True)
cx = app.parameter("cx", customers, unit="km", required=True, title="Customer x")
cy = app.parameter("cy", customers, unit="km", required=True, title="Customer y")
demand = app.parameter("demand", customers, unit="units", lower=0, required=True)
unit_cost = app.parameter("unit_cost", unit="$/unit/km", lower=0, default=1.0)
mip_gap = app.parameter("mip_gap", lower=0, upper=1, default=1e-4, title="Relative MIP gap")
time_limit = app.parameter("time_limit", unit="s", lower=0, default=600.0)
n_facilities = app.parameter("n_facilities", type="integer", lower=1, default=50)
n_customers = app.parameter("n_customers", type="integer", lower=1, default=250)
seed = app.parameter("seed", type="integer", lower=0, default=11)

is_open = app.result("is_open", facilities, type="binary", title="Facility opened")
served = app.result("served", [facilities, customers], lower=0, upper=1,
                    title="Share of the customer's demand served by the facility")
facility_cost = app.result("facility_cost", facilities, unit="$", lower=0,
                           title="Cost of each opened facility (fixed + serving)")
assigned = app.result("assigned", customers, type="string",
                      title="Facility serving most of the customer's demand")
total_cost = app.result("total_cost", unit="$", title="Total cost")
best_bound = app.result("best_bound", unit="$", title="Proven lower bound")
status = app.result("status", type="string", title="Solver status")


def generate_data(n_fac: int, n_cust: int, seed: int) -> dict[str, Any]:
    """A random instance: points in a 100 km square, capacities 3-6x the average need."""
    rng = np.random.default_rng(seed)
    fac = [f"f{i + 1:03d}" for i in range(n_fac)]
    cus = [f"c{j + 1:04d}" for j in range(n_cust)]
    need = rng.integers(5, 35, n_cust)
    share = int(need.sum()) / n_fac
    caps = rng.integers(int(share * 3), int(share * 6), n_fac)

    def coords(names: list[str]) -> dict[str, float]:
        return dict(zip(names, np.round(rng.uniform(0, 100, len(names)), 1).tolist(), strict=True))

    return {
        "facilities": fac, "customers": cus,
        "fx": coords(fac), "fy": coords(fac), "cx": coords(cus), "cy": coords(cus),
        "demand": dict(zip(cus, need.tolist(), strict=True)),
        "capacity": dict(zip(fac, caps.tolist(), strict=True)),
        "fixed_cost": dict(zip(fac, np.round(rng.uniform(1200, 2800, n_fac)).tolist(),
                               strict=True)),
        "n_facilities": n_fac, "n_customers": n_cust, "seed": seed,
    }


class Instance:
    """The model's numbers as arrays, in the order of the sets."""

    def __init__(self, ctx: Context) -> None:
        self.fac: list[str] = list(ctx["facilities"])
        self.cus: list[str] = list(ctx["customers"])
        pick = lambda name, keys: np.array([ctx[name][k] for k in keys], dtype=float)  # noqa: E731
        dx = pick("fx", self.fac)[:, None] - pick("cx", self.cus)[None, :]
        dy = pick("fy", self.fac)[:, None] - pick("cy", self.cus)[None, :]
        self.demand = pick("demand", self.cus)
        self.capacity = pick("capacity", self.fac)
        self.fixed = pick("fixed_cost", self.fac)
        self.serve_cost = np.hypot(dx, dy) * self.demand[None, :] * ctx["unit_cost"]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.fac), len(self.cus)


def build(h: highspy.Highs, inst: Instance) -> None:
    """Columns serve[f,c] (f-major) then open[f]; rows: assignment, then capacity."""
    m, n = inst.shape
    nx = m * n
    h.addVars(nx + m, np.zeros(nx + m), np.ones(nx + m))
    h.changeColsCost(nx + m, np.arange(nx + m, dtype=np.int32),
                     np.concatenate([inst.serve_cost.ravel(), inst.fixed]))
    h.changeColsIntegrality(m, np.arange(nx, nx + m, dtype=np.int32),
                            np.full(m, highspy.HighsVarType.kInteger.value, dtype=np.uint8))
    assign_idx = np.arange(nx, dtype=np.int32).reshape(m, n).T.ravel()
    h.addRows(n, np.ones(n), np.ones(n), nx, np.arange(0, nx, m, dtype=np.int32),
              assign_idx, np.ones(nx))
    cap_idx = np.hstack([np.arange(nx, dtype=np.int32).reshape(m, n),
                         np.arange(nx, nx + m, dtype=np.int32)[:, None]]).ravel()
    cap_val = np.hstack([np.tile(inst.demand, (m, 1)), -inst.capacity[:, None]]).ravel()
    h.addRows(m, np.full(m, -highspy.kHighsInf), np.zeros(m), m * (n + 1),
              np.arange(0, m * (n + 1), n + 1, dtype=np.int32), cap_idx, cap_val)


class Reporter:
    """HiGHS callbacks: progress (throttled, increasing) and interruption on should_stop."""

    def __init__(self, ctx: Context, every_s: float = 0.5,
                 shape: tuple[int, int] | None = None) -> None:
        self.ctx = ctx
        self.shape = shape  # the model's (facilities, customers), for checkpoints
        self.every_s = every_s
        self._last = -1.0

    def attach(self, h: highspy.Highs) -> None:
        h.cbMipImprovingSolution.subscribe(self.on_improving)
        h.cbMipInterrupt.subscribe(self.on_mip_interrupt)
        h.cbSimplexInterrupt.subscribe(self.on_lp_interrupt)
        h.cbLogging.subscribe(lambda e: self.ctx.log(e.message.rstrip()))

    def on_improving(self, event: Any) -> None:
        self._report(event.data_out, "new best solution")
        if self.shape is not None:
            self.ctx.checkpoint(checkpoint_of(np.asarray(event.data_out.mip_solution),
                                              self.shape, event.data_out.objective_function_value))

    def on_mip_interrupt(self, event: Any) -> None:
        if self.ctx.should_stop():
            event.interrupt()
        elif self.ctx.elapsed_s - self._last >= self.every_s:
            self._report(event.data_out, "searching")

    def on_lp_interrupt(self, event: Any) -> None:
        """LP iterations carry no MIP bounds: only check whether to stop."""
        if self.ctx.should_stop():
            event.interrupt()

    def _report(self, out: Any, what: str) -> None:
        self._last = self.ctx.elapsed_s
        primal, dual = out.mip_primal_bound, out.mip_dual_bound
        gap = min(1.0, abs(primal - dual) / max(abs(primal), 1e-9)) if np.isfinite(primal) else 1.0
        fraction = 0.05 + 0.9 * (1.0 - gap)
        message = f"{what}: nodes {out.mip_node_count}, gap {100 * gap:.2f}%"
        self.ctx.progress(fraction, message, incumbent=primal, bound=dual)


def checkpoint_of(col: np.ndarray, shape: tuple[int, int], objective: float) -> dict[str, Any]:
    """An incumbent as a small checkpoint: the opened facilities and the non-zero shares."""
    m, n = shape
    serve = col[: m * n]
    nonzero = np.nonzero(serve > 1e-9)[0]
    return {"shape": [m, n], "objective": float(objective),
            "open": np.nonzero(np.round(col[m * n:]) > 0)[0].tolist(),
            "serve": [[int(i), float(serve[i])] for i in nonzero.tolist()]}


def resume(h: highspy.Highs, ctx: Context, shape: tuple[int, int]) -> None:
    """Give HiGHS the checkpoint of an earlier attempt (if any, and of this model's shape)
    as its start solution."""
    start = ctx.start_solution
    if start is None:
        return
    m, n = shape
    if list(start.get("shape", [])) != [m, n]:
        ctx.log("the checkpoint is of another model; starting from scratch")
        return
    col = np.zeros(m * n + m)
    for index, share in start["serve"]:
        col[int(index)] = float(share)
    col[[m * n + int(f) for f in start["open"]]] = 1.0
    solution = highspy.HighsSolution()
    solution.col_value = col.tolist()
    solution.value_valid = True
    h.setSolution(solution)
    ctx.log(f"started from the checkpoint: incumbent {float(start['objective']):.2f} "
            f"with {len(start['open'])} facilities open")


STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kTimeLimit: "time limit",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
}


def extract(h: highspy.Highs, inst: Instance) -> dict[str, Any]:
    """Results from the best solution HiGHS holds (none if it found no feasible one)."""
    info = h.getInfo()
    result: dict[str, Any] = {"status": STATUS.get(h.getModelStatus(), "failed")}
    if np.isfinite(info.mip_dual_bound):
        result["best_bound"] = info.mip_dual_bound
    if info.primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return result
    m, n = inst.shape
    col = np.asarray(h.getSolution().col_value)
    serve = col[: m * n].reshape(m, n)
    opened = np.round(col[m * n:]).astype(int)
    result["is_open"] = dict(zip(inst.fac, opened.tolist(), strict=True))
    rows, cols = np.nonzero(serve > 1e-7)
    result["served"] = {
        (inst.fac[i], inst.cus[j]): float(min(1.0, serve[i, j]))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    }
    result["total_cost"] = info.objective_function_value
    serving = (serve * inst.serve_cost).sum(axis=1) + inst.fixed * opened
    result["facility_cost"] = {f: float(c) for f, c, o in zip(inst.fac, serving.tolist(),
                                                              opened.tolist(), strict=True) if o}
    result["assigned"] = {c: inst.fac[int(i)] for c, i in zip(inst.cus, serve.argmax(axis=0),
                                                              strict=True)}
    return result


@app.procedure(kind="session", title="Generate a random instance")
def generate(ctx: Context) -> dict[str, Any]:
    """Replace the sets and data by an instance generated from the size and seed parameters."""
    return generate_data(ctx["n_facilities"], ctx["n_customers"], ctx["seed"])


@app.procedure(kind="solve", title="Choose facilities")
def solve(ctx: Context) -> dict[str, Any]:
    """Solve the MIP; on interruption keep the best solution found so far."""
    ctx.progress(0.0, "building the model")
    inst = Instance(ctx)
    h = highspy.Highs()
    h.setOptionValue("log_to_console", False)
    h.setOptionValue("mip_rel_gap", float(ctx["mip_gap"]))
    h.setOptionValue("time_limit", float(ctx["time_limit"]))
    build(h, inst)
    resume(h, ctx, inst.shape)
    Reporter(ctx, shape=inst.shape).attach(h)
    ctx.progress(0.05, f"solving: {inst.shape[0]} facilities, {inst.shape[1]} customers")
    h.run()
    result = extract(h, inst)
    ctx.progress(1.0, result["status"], incumbent=result.get("total_cost"),
                 bound=result.get("best_bound"))
    return result


app.page("data", "Data", [
    text("Candidate facilities and customers; **Generate** draws a new instance of the size "
         "and seed below. Edit capacities, fixed costs and demands in the tables."),
    scalar(n_facilities, "Facilities"), scalar(n_customers, "Customers"), scalar(seed, "Seed"),
    button(generate, "Generate"),
    table(capacity, "Capacity"), table(fixed_cost, "Fixed cost"), table(demand, "Demand"),
])
app.page("solve", "Solve", [
    scalar(mip_gap, "Relative gap"), scalar(time_limit, "Time limit"),
    button(solve, "Solve"),
    table(total_cost, editable=False), table(best_bound, editable=False),
    table(status, editable=False),
    chart(is_open, "bar", title="Opened facilities"),
    chart(facility_cost, "bar", title="Cost per opened facility ($)"),
    table(facility_cost, "Opened facilities and their cost", editable=False),
    table(assigned, "Who serves each customer", editable=False),
])
app.defaults(generate_data(50, 250, 11))
