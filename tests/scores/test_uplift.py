"""The two-model uplift estimate of a contact: found when the contact log is rich enough, refused (and said so)
when it is not."""

from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from arrears.scores.train import time_split, uplift_estimate
from test_scorecard import plans


def _with_contacts(n: int, effect: float, seed: int = 4) -> pa.Table:
    """Plans where being reached adds ``effect`` to the logit of paying."""
    table, _ = plans(n, seed)
    rng = np.random.default_rng(seed + 1000)  # not plans()'s stream: contact must not follow the plan terms
    treated = rng.random(n) < 0.5
    relief = table.column("payment_relief").to_numpy()
    dpd = table.column("dpd_at_restructuring").to_numpy()
    z = -0.3 + 5 * relief - 0.006 * dpd + effect * treated
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    days = [date(2024, 1, 1) + timedelta(days=int(d)) for d in np.sort(rng.integers(0, 365, n))]
    return table.append_column("treated", pa.array(treated)).append_column("label", pa.array(y)) \
        .append_column("as_of", pa.array(days, pa.date32()))


def test_a_real_contact_effect_is_found_and_no_effect_is_near_zero():
    found = uplift_estimate("completion", time_split(_with_contacts(30_000, 1.0), "as_of"))
    none = uplift_estimate("completion", time_split(_with_contacts(30_000, 0.0), "as_of"))
    assert found["estimated"] and none["estimated"]
    assert found["holdout_mean_uplift"] > 0.12 and found["holdout_share_positive"] > 0.9
    assert abs(none["holdout_mean_uplift"]) < 0.04


def test_too_few_contacts_is_said_not_guessed():
    data = _with_contacts(2_000, 1.0)
    data = data.set_column(data.column_names.index("treated"), "treated", pa.array([False] * 1990 + [True] * 10))
    result = uplift_estimate("completion", time_split(data, "as_of"))
    assert result["estimated"] is False and "too thin" in result["reason"]
    no_log = uplift_estimate("completion", time_split(data.drop(["treated"]), "as_of"))
    assert no_log == {"estimated": False, "reason": "no contact data in this source"}
