"""The Markdown tables of a JSON result (bench/run.py --render RESULT.json prints them again),
and the targets of bench/scenarios.toml evaluated against its figures."""
import operator

import sections

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
MISSING = object()


class View:
    """Read access to a result for the sections' rows functions, and the number formats."""

    def __init__(self, data):
        self.data = data

    def fig(self, path, default=None):
        value = lookup(self.data["figures"], path)
        return default if value is MISSING else value

    def load(self, section):
        return self.data["load"].get(section) if section in self.data["figures"] else None

    @staticmethod
    def rps(value):
        return f"{value:.0f} req/s"

    @staticmethod
    def rate(value, unit):
        return f"{value:.0f} {unit}"

    @staticmethod
    def ratio(a, b):
        return f"{a / b:.2f}" if b else "n/a"

    @staticmethod
    def mib(kb):
        return f"{kb / 1024:.1f} MiB"


def lookup(figures, path):
    """A figure by its path: the section, then the keys below it, joined by dots."""
    section, _, rest = path.partition(".")
    value = figures.get(section, MISSING)
    for key in rest.split(".") if rest else []:
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def evaluate(data, targets):
    """Each target with its figure (the metric, or metric ÷ source) and its verdict: met,
    missed, not measured (a figure missing) or not measurable (a figure null)."""
    out = []
    for target in targets:
        entry = dict(target)
        metric = lookup(data["figures"], target["metric"])
        source = lookup(data["figures"], target["source"]) if "source" in target else 1
        if metric is MISSING or source is MISSING:
            entry["verdict"] = "not measured"
        elif metric is None or source is None or source == 0:
            entry["verdict"] = "not measurable"
        else:
            entry["metric_value"] = metric
            if "source" in target:
                entry["source_value"] = source
            entry["figure"] = metric / source if "source" in target else metric
            met = OPS[target["op"]](entry["figure"], target["value"])
            entry["verdict"] = "met" if met else "missed"
        out.append(entry)
    return out


def number(value):
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}"


def target_rows(data):
    for t in data.get("targets", []):
        verdict = t["verdict"]
        if "figure" not in t:
            sections_of = sorted({t["metric"].split(".")[0], t.get("source", "").split(".")[0]}
                                 - {""})
            text = (f"{verdict} (section {', '.join(sections_of)} not run, or its reference "
                    "missing)") if verdict == "not measured" else verdict
            yield f"| {t['name']} | {text} | — |"
            continue
        if "source" in t:
            text = (f"{t['figure']:.2f}× ({number(t['metric_value'])} vs "
                    f"{number(t['source_value'])}, {t['source']})")
        else:
            text = number(t["figure"])
        shown = "met" if verdict == "met" else "**missed**"
        yield f"| {t['name']} | {text} | {shown} |"


def scenario_rows(view):
    done = set()
    for name in view.data["sections"]:
        module = sections.module(name)
        if module in done or name not in view.data["figures"]:
            continue
        done.add(module)
        try:
            yield from list(module.rows(view))
        except (KeyError, TypeError, ValueError):
            # A section that failed half-way has half its figures.
            yield (f"{name}: incomplete (see the failures below)", "—", "—", "—")


def markdown(data, targets=None):
    view = View(data)
    lines = [f"| scenario | delayq (median of {data['repetitions']}) | reference | "
             "ratio (delayq ÷ reference) |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in scenario_rows(view)]
    lines += ["", "| target | figure | |", "|---|---|---|"]
    lines += list(target_rows(data))
    m = data["machine"]
    fsync = m.get("fsync_4k_dsync")
    lines += [
        "",
        f"Loopback only; the load generator shares the machine ({m['cpus']} CPUs, "
        f"{m['cpu_model']}) with the server.",
        f"Data on {m['data_fs']}; fsync figures depend on that device: " + (
            f"{fsync['ms_per_write']:.3f} ms per 4 KiB dsync write ({fsync['writes_per_s']}/s)."
            if fsync else "n/a."),
        f"Run: {data['started_utc']} to {data.get('finished_utc', '?')}, commit {data['commit']}"
        f"{' (with local changes)' if data.get('dirty') else ''}, sections: "
        f"{','.join(data['sections'])}, {data['mode']}, acks: {data.get('ack_mode')}; load "
        f"average at the end: {' '.join(f'{x:.2f}' for x in m.get('load_average_end', []))}.",
    ]
    if any(s in data["figures"] for s in ("callbacks", "topics")):
        lines.append("Callback lateness is at the 1 ms resolution of nginx's $msec (the "
                     "receiver's log time).")
    for name, reason in data.get("skipped", {}).items():
        lines.append(f"Skipped {name}: {reason}.")
    for note in data.get("notes", []):
        lines.append(f"Note: {note}.")
    problems = [f"{name} failed: {why}" for name, why in data.get("failed", {}).items()]
    problems += data.get("invalid", [])
    if problems:
        lines += ["", "Invalid measurements (the run exits non-zero):"]
        lines += [f"- {p}" for p in problems]
    return "\n".join(lines)
