"""The CAMUS experts' image-quality labels, patient folds and the agreement report used to validate quality
methods on real labels."""
from __future__ import annotations

import numpy as np
import pytest

from training.common import patient_of
from training.quality.labels import LabelError, category_of, patient_folds, read_labels
from training.quality.real_labels import agreement_with_labels, global_scores


def test_camus_labels_are_read(camus):
    labels = read_labels(camus)
    assert len(labels) == 149
    assert [list(labels.values()).count(x) for x in ("Good", "Medium", "Poor")] == [77, 57, 15]
    assert all((camus / "images" / f"{name}.png").is_file() for name in labels)


def test_bad_label_file_is_one_clear_error(tmp_path):
    with pytest.raises(LabelError, match="cannot read"):
        read_labels(tmp_path)
    (tmp_path / "image_quality.csv").write_text("name,patient,view,phase,image_quality\na,p,2CH,ED,Great\n")
    with pytest.raises(LabelError, match=":2: expected"):
        read_labels(tmp_path)


def test_folds_keep_patients_together_and_spread_labels(camus):
    labels = read_labels(camus)
    names = sorted(labels)
    patients = [patient_of(n) for n in names]
    folds = patient_folds(patients, 5, 0, strata=[labels[n] for n in names])
    for p in set(patients):
        assert len({f for f, q in zip(folds, patients) if q == p}) == 1
    poor = [f for f, n in zip(folds, names) if labels[n] == "Poor"]
    assert np.bincount(poor, minlength=5).min() >= 2          # 15 Poor frames over 5 folds
    assert np.array_equal(folds, patient_folds(patients, 5, 0, strata=[labels[n] for n in names]))
    assert not np.array_equal(folds, patient_folds(patients, 5, 1, strata=[labels[n] for n in names]))


def test_categories_and_agreement():
    assert category_of(np.array([1.0, 2.49, 2.5, 3.49, 3.5, 5.0, np.nan])).tolist() == [0, 0, 1, 1, 2, 2, -1]
    regional = np.array([[2.0, 2.2, np.nan], [3.0, 3.2, 2.8], [4.0, 4.4, 3.9], [np.nan] * 3])
    g = global_scores(regional)
    assert np.allclose(g[:3], [2.1, 3.0, 4.1]) and np.isnan(g[3])
    a = agreement_with_labels(g, ["Poor", "Medium", "Good", "Good"])
    assert a["n"] == 3 and a["spearman"] == pytest.approx(1.0) and a["accuracy"] == 1.0
    assert a["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    reversed_ = agreement_with_labels(g[:3], ["Good", "Medium", "Poor"])
    assert reversed_["spearman"] == pytest.approx(-1.0) and reversed_["accuracy"] == pytest.approx(1 / 3, abs=1e-3)
