"""The model card written beside each saved model: data, period, features with their bins and how missing
values were treated, hold-out performance, limits."""

from __future__ import annotations

from arrears.scores.catalog import FeatureCatalog
from arrears.scores.model import ScoreModel

LIMITS = {
    "demo": "Trained on the demo portfolio's synthetic payment history (behaviours drawn by the generator), so the "
            "figures show the pipeline works, not how a real portfolio behaves. Days past due are counted from "
            "instalment due dates and settlement value dates (no grace or holiday shift).",
    "synthetic": "Trained on synthetic plans shaped by published redefault evidence (DOMAIN.md §5), not on this "
                 "institution's plan outcomes: replace it once agreements record completions.",
    "sba": "US SBA small-business loans (approved up to 2014), a different market, currency and product from "
           "Chinese inclusive finance: it shows the pipeline on real labels, it is not a model for this portfolio. "
           "Term is recorded after the fact for some charged-off loans and flatters the figures.",
    "lendingclub": "10,000 Lending Club loans issued January–March 2018 and observed shortly after: few bad "
                   "outcomes (grace, late or charged off), so figures are noisy; the hold-out (March) is younger "
                   "than the training loans and has had less time to go bad.",
}


def model_card(model: ScoreModel, manifest: dict, catalog: FeatureCatalog) -> str:
    described = catalog.describe(model.kind)
    split, figures = manifest["split"], manifest["holdout"]
    lines = [
        f"# Model card: {model.kind} ({manifest['source']})", "",
        f"- Predicts: {manifest['description']}",
        f"- Data: source `{manifest['source']}`, {manifest['rows']:,} rows, period {manifest['period'][0]} – "
        f"{manifest['period'][1]}",
        f"- Time split on `{split['time_column']}`: train {split['train_rows']:,} rows before {split['valid_from']}, "
        f"calibration {split['valid_rows']:,} rows from {split['valid_from']}, hold-out {split['holdout_rows']:,} "
        f"rows from {split['holdout_from']}",
        f"- Method: binned logistic scorecard (quantile bins, one coefficient per bin, L2 ridge), Platt calibration "
        f"on the calibration slice (a = {model.platt_a:.4f}, b = {model.platt_b:.4f})",
        f"- Feature schema hash: `{model.schema_hash}`", "",
        "## Performance on the hold-out", "",
        f"AUC {figures['auc']}, KS {figures['ks']}, Brier {figures['brier']} "
        f"({figures['rows']:,} rows, {figures['positives']:,} positive)", "",
        "| group | rows | mean predicted | observed |", "|---|---|---|---|",
        *[f"| {i + 1} | {row['n']:,} | {row['predicted']} | {row['observed']} |"
          for i, row in enumerate(figures["calibration"])], "",
        "## Features and imputation", "",
        "Every numeric feature has a bin for missing or malformed values (not a number, infinite, unreadable "
        "text); a categorical feature's bin 0 takes missing values and categories seen fewer than 20 times. "
        "A bin never seen in training keeps a coefficient of 0 (the average), so such rows score as average "
        "on that feature. Rows per bin in training:", "",
        "| feature | description | bins (training rows) |", "|---|---|---|",
    ]
    for b in model.bins:
        f = described[b.name]
        cells = ", ".join(f"{label}: {n:,}" for label, n in zip(b.labels(), b.counts))
        lines.append(f"| `{b.name}` | {f.zh} / {f.en} | {cells} |")
    uplift = manifest.get("uplift")
    if uplift is not None:
        lines += ["", "## Uplift of a contact", "", *[f"- {k}: {v}" for k, v in uplift.items()]]
    lines += ["", "## Limits", "", LIMITS.get(manifest["source"], ""),
              "No protected attribute or proxy (ethnicity, religion, gender, age, region of origin, ID-number "
              "prefix, birthplace) is a feature (tests/scores/test_fairness.py).", ""]
    return "\n".join(lines)
