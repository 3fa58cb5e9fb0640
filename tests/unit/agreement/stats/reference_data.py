"""Published data sets and the statistics their sources report (expected test outputs)."""

from __future__ import annotations

import math

nan = math.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", sections C-F: four
# observers x 12 units, values 1-5, "*" (missing) as NaN. The same matrix is in the
# krippendorff package's docstring and, transposed, in Gwet's irrCAC as cac.raw4raters.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],  # observer A
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],  # B
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],  # C
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],  # D
]
KRIPPENDORFF_2011_ALPHA = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}

# Krippendorff (2011), section A: binary data, two observers, 10 units; alpha = 0.095.
KRIPPENDORFF_2011_BINARY = [
    [0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    [1, 1, 1, 0, 0, 1, 0, 0, 0, 0],
]
KRIPPENDORFF_2011_BINARY_ALPHA = 0.095

# Krippendorff (2011), section B: nominal data, two observers (Ben, Gerry), 12 units, no
# missing values; alpha = 0.692.
KRIPPENDORFF_2011_NOMINAL = [
    ["a", "a", "b", "b", "d", "c", "c", "c", "e", "d", "d", "a"],
    ["b", "a", "b", "b", "b", "c", "c", "c", "e", "d", "d", "d"],
]
KRIPPENDORFF_2011_NOMINAL_ALPHA = 0.692

# Fleiss' kappa, Wikipedia "Fleiss' kappa", worked example: 10 subjects, 14 raters,
# 5 categories; kappa = 0.210 (also statsmodels' test_inter_rater.table1).
WIKIPEDIA_FLEISS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]
WIKIPEDIA_FLEISS_KAPPA = 0.210

# Fleiss (1971), "Measuring nominal scale agreement among many raters", Psychological
# Bulletin 76(5): 30 patients, 6 psychiatrists each, 5 diagnoses (1 depression,
# 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other); kappa = 0.430. Raw
# ratings as in statsmodels' test_inter_rater.diagnoses, whose 0.4302445 is R irr's
# kappam.fleiss.
FLEISS_1971_DIAGNOSES = [
    [4, 4, 4, 4, 4, 4],
    [2, 2, 2, 5, 5, 5],
    [2, 3, 3, 3, 3, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3],
    [3, 3, 3, 3, 5, 5],
    [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4],
    [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4],
    [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3],
    [1, 4, 4, 4, 4, 4],
    [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5],
    [1, 1, 1, 1, 1, 2],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 4, 4, 4, 4, 4],
    [2, 2, 4, 5, 5, 5],
    [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4],
    [1, 1, 1, 1, 5, 5],
    [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3],
    [5, 5, 5, 5, 5, 5],
]
FLEISS_1971_KAPPA = 0.4302

# Gwet's generalized Fleiss' kappa for subjects rated by different numbers of raters:
# irrCAC's README, fleiss.kappa.raw(cac.raw4raters) (= KRIPPENDORFF_2011 transposed,
# subjects rated by 1 to 4 raters): pa 0.8181818, pe 0.2387153, kappa 0.76117.
GWET_FLEISS_KAPPA = 0.76117

# Artstein and Poesio (2008), "Inter-coder agreement for computational linguistics",
# Computational Linguistics 34(4). Table 1: two coders, 100 utterances, STAT / IREQ
# (rows coder A, columns coder B); A_o = 0.7, kappa = 0.348.
ARTSTEIN_POESIO_TABLE_1 = [[20, 20], [10, 50]]
ARTSTEIN_POESIO_TABLE_1_KAPPA = 0.348
# Their three-category example (STAT / IREQ / CHCK, 100 utterances; A_o = 0.88,
# kappa = 0.8013), the cells as in NLTK's artstein_poesio_example.txt (scikit-learn's
# test_cohen_kappa reproduces the same margins and kappa as "Table 4").
ARTSTEIN_POESIO_TABLE_4 = [[46, 0, 0], [6, 32, 6], [0, 0, 10]]
ARTSTEIN_POESIO_TABLE_4_KAPPA = 0.8013

# Weighted kappa: scikit-learn's test_cohen_kappa "weighting example" (labels 0, 1, 2):
# unweighted 0.9315, linear 0.9412, quadratic 0.9541.
SKLEARN_WEIGHTED_TABLE = [[46, 0, 0], [4, 40, 0], [0, 0, 10]]
SKLEARN_WEIGHTED_KAPPA = {None: 0.9315, "linear": 0.9412, "quadratic": 0.9541}
