#!/usr/bin/env python3
"""claims_images_table.py OUT SEED...: the table of scripts/claims_images.sh from its run folders.

Per seed, one row with: the MLE flow's and the FCE flow's test bits/dim; the FCE EBM's test bits/dim
with its learned c and with c + log Z (log Z by importance sampling, its se and ESS); the game after
the warm-up (the rows past the first 20% of the FCE run): mean and minimum of the value V, the EBM's
share of the turns, the last health word; the offline sample quality (KID, precision, recall,
coverage: means over the feature seeds, with the data-vs-data floor); the linear probe at the
smallest label budget, FCE EBM against a random EBM. Writes OUT/claims_images.tsv (and prints it).
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def rows(path):
    try:
        with open(path) as fh:
            return [json.loads(l) for l in fh if l.strip()]
    except OSError:
        return []


def fmt(v, nd=4):
    if v is None:
        return "-"
    return f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def game_after_warmup(metrics):
    if not metrics:
        return {}
    last = metrics[-1]["step"]
    after = [r for r in metrics if r["step"] > 0.2 * last]
    if len(after) < 2:
        after = metrics
    first = after[0]
    vals = [r["value"] for r in after if r.get("value") is not None]
    d_steps = last - first["step"]
    d_ebm = metrics[-1]["ebm_updates"] - first["ebm_updates"]
    return {"V_mean": sum(vals) / len(vals) if vals else None, "V_min": min(vals) if vals else None,
            "ebm_share": d_ebm / d_steps if d_steps > 0 else None, "health": metrics[-1].get("health")}


def quality(q):
    if not q:
        return {}
    out = {k: q["fake"][k]["mean"] for k in ("kid", "precision", "recall", "coverage")}
    out["kid_sd"] = q["fake"]["kid"]["sd"]
    out["floor_kid"] = q["floor"]["kid"]["mean"] if q.get("floor") else None
    return out


def main():
    out, seeds = sys.argv[1], sys.argv[2:]
    cols = ["seed", "bpd_mle", "bpd_fce_flow", "bpd_ebm", "log_z", "log_z_se", "log_z_ess", "bpd_ebm_z",
            "V_mean", "V_min", "ebm_share", "health", "kid_mle", "kid_fce", "prec_mle", "prec_fce",
            "recall_mle", "recall_fce", "cov_mle", "cov_fce", "kid_floor", "probe_k", "probe_fce",
            "probe_random"]
    lines = ["\t".join(cols)]
    for s in seeds:
        m, f = os.path.join(out, f"mle-s{s}"), os.path.join(out, f"fce-s{s}")
        em, ef = load(os.path.join(m, "eval.json")) or {}, load(os.path.join(f, "eval.json")) or {}
        g = game_after_warmup(rows(os.path.join(f, "metrics.jsonl")))
        qm, qf = quality(load(os.path.join(m, "quality.json"))), quality(load(os.path.join(f, "quality.json")))
        pr = load(os.path.join(f, "probe", "probe.json")) or {}
        b0 = (pr.get("budgets") or [{}])[0]
        vals = [s, em.get("bpd"), ef.get("bpd"), ef.get("bpd_ebm"), ef.get("log_z"), ef.get("log_z_se"),
                ef.get("log_z_ess"), ef.get("bpd_ebm_z"), g.get("V_mean"), g.get("V_min"), g.get("ebm_share"),
                g.get("health"), qm.get("kid"), qf.get("kid"), qm.get("precision"), qf.get("precision"),
                qm.get("recall"), qf.get("recall"), qm.get("coverage"), qf.get("coverage"),
                qf.get("floor_kid"), b0.get("k"), b0.get("fce_acc"), b0.get("random_acc")]
        lines.append("\t".join(fmt(v) for v in vals))
    text = "\n".join(lines) + "\n"
    tmp = os.path.join(out, "claims_images.tsv.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, os.path.join(out, "claims_images.tsv"))
    print(text, end="")


if __name__ == "__main__":
    main()
