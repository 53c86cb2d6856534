#!/usr/bin/python3
"""Builds the demo data in data/insects_demo/ from the real INSECTS incremental-gradual stream.

Usage:  /usr/bin/python3 scripts/make_demo_data.py [path/to/gradual_balanced_24150.csv]

Source: INSECTS incremental-gradual, balanced (Souza et al., DMKD 34:1805, 2020), as shipped by
ZSKPP/feature-drift @ 53e4f82e `DATA real/Insects/gradual_balanced_24150.zip`: 24,150 rows,
33 numeric wing-beat sensor features and the class code in the last column, no header.
Usable without restriction; cite Souza et al. (2020) and Porwik et al., Cluster Computing (2024).

Writes train.csv, train_shap.csv, traffic.csv, labels.csv, conversions.csv and FAULTS.md. Every
random choice comes from fixed seeds, so the output is the same on every run.
data/insects_demo/README.md explains the result.
"""

import datetime
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_SOURCE = os.path.join(ROOT, "..", "shared", "data", "insects_gradual",
                              "gradual_balanced_24150.csv")
OUT_DIR = os.path.join(ROOT, "data", "insects_demo")

# Source rows (0-based, end exclusive) of the three blocks of the stream. In the source the
# classes come in long single-class stretches (class 4 only appears from row ~10,000; rows
# 11,773-13,799 are all class 4; rows 23,273-24,149 all class 5), while the features of each
# class stay put before row 13,800 and after row 14,028. Rows 13,800-14,027 are six 38-row runs,
# one per class, in which the temperature-driven change happens (reference drift point 14,028).
# Shuffling within each block mixes the classes and keeps the drift in time order.
BLOCKS = [(0, 13800), (13800, 14028), (14028, 24150)]
DRIFT_ROW = 14028
TRAIN_ROWS = 6000

# Source feature columns kept (1-based, named fNN after their position in the source, which
# names none of them): the six large-valued ones and four of the small-valued ones, which keeps
# the files under 3 MB. f06 is left out of the model inputs and only yields the category `band`.
FEATURES = [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]
BAND_FEATURE = 6
# Band cut points at training quantiles 0.50 and 0.85: low/mid/high hold about 50/35/15 percent
# of training rows. Unequal shares make a swapped label visible in the marginal counts too.
BAND_QUANTILES = (0.50, 0.85)

START = datetime.datetime(2026, 11, 2, 8, 0, 0, tzinfo=datetime.timezone.utc)
RATE_PER_SECOND = 2.0          # 120 requests a minute on average
LATENCY_MEDIAN_MS = 12.0
LATENCY_SIGMA = 0.35           # lognormal shape: p99 about 27 ms
HOSTS = ["h1", "h2", "h3", "h4"]
MODEL_VERSION = "v7"

# Injected faults, as minutes after START (end exclusive).
UNIT_CHANGE = dict(column="f07", factor=1000.0, start=80, end=100)
MALFORMED = dict(column="f04", text="n/a", count=12, start=105, end=110)
LABEL_SWAP = dict(column="band", pair=("low", "high"), start=115, end=130)
MISSING_BURST = dict(column="f09", start=135, end=145)
# Operations faults, placed apart from the ones above. A slow host: one request in ten on it
# takes ten times as long (a tail latency fault, as from a failing disk or a noisy neighbour);
# its median does not move. At 30 requests a minute per host, one in a hundred would be about
# 1.5 slow requests per 5-minute latency window, below what any test can tell from chance.
# Then the arrivals stop: no request at all.
SLOW_HOST = dict(host="h3", factor=10.0, share=0.10, start=45, end=60)
ARRIVAL_STOP = dict(start=146, end=151)

SEED_SHUFFLE = 20261102
SEED_TRAFFIC = 7
SEED_MALFORMED = 11
SEED_SLOW = 13
SEED_LABELS = 17

# Late labels: the species of a recorded insect is confirmed when its specimen is examined,
# minutes after the sensor's reading. Each request is confirmed with this probability (a
# specimen can be lost or left unexamined), after a lognormal delay of this median and shape:
# about 10 minutes, 90 % of them within 4.4 to 23 minutes. On a 2.5-hour log a delay of days
# would leave nothing to see; a delay of seconds would make the labels as good as the
# `species` column.
LABELS = dict(share=0.90, median_minutes=10.0, sigma=0.5)

# An experiment on how the identification is shown, with synthetic responses (they do not come
# from INSECTS): until minute `start` every request sees the `list` variant; from then on a
# share sees the new `card` variant. A response is the user confirming the identification, at
# a given rate per variant, after a lognormal delay; responses after the log's last request
# are not in it. The new variant is better, but its traffic is young at the end of the log,
# so responses over impressions favour the old one.
SEED_VARIANT = 19
SEED_RESPONSES = 23
EXPERIMENT = dict(start=100, share=0.6, rates={"list": 0.08, "card": 0.12}, median_minutes=30.0, sigma=0.8)

# The canary: the previous version of the model, v6, fitted by the same recipe on the same rows
# but stopped after a third of the steps, and served beside v7 on every request. Its column is
# its probability for the class v7 predicts, the figure `score` gives for v7.
CANARY = dict(column="score_v6", version="v6", iterations=1000)

# Loss attribution: the exact interventional Shapley values of the model's log-loss
# -log p(true class) over this many training rows, drawn with their own seed; written with the
# prefix below for each input feature, numeric ones first (vigil's order), to the training rows
# (train_shap.csv) and to the labels.
SEED_BACKGROUND = 29
BACKGROUND_ROWS = 32
ATTRIBUTION_PREFIX = "shap_"
# FAULTS.md names the features whose attributions the drift raised by at least this many
# training standard deviations.
DRIFT_EFFECT = 0.3


def load(path):
    """Rows of the source file as (features, class codes)."""
    data = np.loadtxt(path, delimiter=",")
    if data.shape != (24150, 34):
        sys.exit(f"{path}: expected 24150 rows x 34 columns, got {data.shape}")
    return data[:, :-1], data[:, -1].astype(int)


def stream_order():
    """Source row indices in stream order: each block shuffled with a fixed seed, blocks kept in order."""
    rng = np.random.default_rng(SEED_SHUFFLE)
    parts = []
    for begin, end in BLOCKS:
        rows = np.arange(begin, end)
        rng.shuffle(rows)
        parts.append(rows)
    return np.concatenate(parts)


class SoftmaxModel:
    """Multinomial logistic regression on standardised features, fitted by full-batch gradient descent.

    A missing input is replaced by its training mean (zero after standardising), as a serving
    pipeline with mean imputation would do.
    """

    def __init__(self, x, labels, iterations=3000, step=0.5, l2=1e-3):
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0)
        self.classes = np.unique(labels)
        z = self._standardise(x)
        target = (labels[:, None] == self.classes[None, :]).astype(float)
        self.weights = np.zeros((z.shape[1], len(self.classes)))
        self.bias = np.zeros(len(self.classes))
        for _ in range(iterations):
            p = self._softmax(z @ self.weights + self.bias)
            error = (p - target) / len(z)
            self.weights -= step * (z.T @ error + l2 * self.weights)
            self.bias -= step * error.sum(axis=0)

    def _standardise(self, x):
        z = (x - self.mean) / self.scale
        return np.where(np.isnan(z), 0.0, z)

    @staticmethod
    def _softmax(logits):
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def probabilities(self, x):
        """Each class's probability, one row per row of x, classes in the order of self.classes."""
        return self._softmax(self._standardise(x) @ self.weights + self.bias)

    def predict(self, x):
        """(predicted class codes, probability of the predicted class)."""
        p = self.probabilities(x)
        best = p.argmax(axis=1)
        return self.classes[best], p[np.arange(len(p)), best]

    def log_loss(self, x, labels):
        """-log p(true class) of each row."""
        logits = self._standardise(x) @ self.weights + self.bias
        return log_sum_exp(logits) - logits[np.arange(len(x)), self.class_index(labels)]

    def class_index(self, labels):
        return np.searchsorted(self.classes, labels)


def log_sum_exp(logits):
    """log sum exp over the last axis, without overflow: the f07 fault puts logits in the thousands."""
    top = logits.max(axis=-1)
    return top + np.log(np.exp(logits - top[..., None]).sum(axis=-1))


def shapley_weights(d):
    """The d x 2^d matrix that turns a game's values on every coalition (bit k of the coalition's
    index: player k is in it) into the players' Shapley values:
    phi_j = sum over S without j of |S|! (d - |S| - 1)! / d! * (v(S + j) - v(S))."""
    masks = (np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1
    size = masks.sum(axis=1)
    weight = np.array([math.factorial(k) * math.factorial(d - k - 1) / math.factorial(d) for k in range(d)])
    inside = weight[np.clip(size - 1, 0, d - 1)]
    outside = -weight[np.clip(size, 0, d - 1)]
    return masks.astype(float), np.where(masks.T == 1, inside[None, :], outside[None, :])


def loss_shares(model, background, x, labels, batch=64):
    """Exact interventional Shapley values of each row's log-loss over the background rows.

    For a row x with true class y and a background row z, the features play the game
    v_z(S) = -log p(y | x on S, z elsewhere); the shares are the mean over z of the Shapley
    values of v_z, which is the Shapley value of the mean game. The model is linear in the
    standardised features up to the softmax, so the logits on a coalition are those of z plus
    the coalition's terms W_k (x_k - z_k): all 2^d coalitions of every pair in a few products.
    Missing inputs take the training mean, as the model sees them. Returns rows x d shares, and
    checks efficiency: each row's shares add up to its loss less the background's mean loss
    for the same class."""
    masks, weights = shapley_weights(model.weights.shape[0])
    z = model._standardise(x)
    zb = model._standardise(background)
    # Logits of each background row with the features of a coalition taken out: B x 2^d x classes.
    rest = (zb @ model.weights + model.bias)[:, None, :] - masks @ (zb[:, :, None] * model.weights[None])
    target = model.class_index(labels)
    shares = np.empty(z.shape)
    for begin in range(0, len(z), batch):
        rows = slice(begin, begin + batch)
        own = masks @ (z[rows, :, None] * model.weights[None])           # R x 2^d x classes
        logits = own[:, None] + rest[None]                                # R x B x 2^d x classes
        picked = np.take_along_axis(logits, target[rows, None, None, None], axis=-1)[..., 0]
        value = (log_sum_exp(logits) - picked).mean(axis=1)               # R x 2^d: the mean game
        shares[rows] = value @ weights.T
    background_loss = np.array([model.log_loss(background, np.full(len(background), c)).mean()
                                for c in model.classes])[target]
    gap = shares.sum(axis=1) - (model.log_loss(x, labels) - background_loss)
    assert np.all(np.abs(gap) <= 1e-9 * np.maximum(1.0, np.abs(shares).sum(axis=1))), \
        "Shapley shares do not add up to the loss: largest gap %g" % np.abs(gap).max()
    return shares


def number(value):
    """Five significant digits, plain notation; empty text for missing."""
    if np.isnan(value):
        return ""
    text = "%.5g" % value
    if "e" in text:
        text = "%.0f" % float(text)
    return text


def iso(seconds_after_start):
    moment = START + datetime.timedelta(seconds=float(seconds_after_start))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def clock(minute):
    return iso(minute * 60.0).replace(".000Z", "Z")


def species(code):
    return "s%d" % code


def band_of(values, cuts):
    return np.where(values < cuts[0], "low", np.where(values < cuts[1], "mid", "high"))


def write_csv(path, header, rows):
    with open(path, "w", newline="") as out:
        out.write(",".join(header) + "\n")
        for row in rows:
            out.write(",".join(row) + "\n")


def main():
    source = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SOURCE
    x_all, y_all = load(source)
    order = stream_order()
    x_all = np.array([[float(number(v)) for v in row] for row in x_all])  # the precision we ship

    columns = [c - 1 for c in FEATURES]
    names = ["f%02d" % c for c in FEATURES]
    x = x_all[order][:, columns]
    y = y_all[order]
    band_source = x_all[order][:, BAND_FEATURE - 1]

    train = slice(0, TRAIN_ROWS)
    cuts = [float(number(np.quantile(band_source[train], q))) for q in BAND_QUANTILES]
    band = band_of(band_source, cuts)
    model = SoftmaxModel(x[train], y[train])
    canary = SoftmaxModel(x[train], y[train], iterations=CANARY["iterations"])
    background = np.sort(np.random.default_rng(SEED_BACKGROUND).choice(
        TRAIN_ROWS, size=BACKGROUND_ROWS, replace=False))
    attribution_header = [ATTRIBUTION_PREFIX + name for name in names + ["band"]]

    # Training file, and the same rows with their attributions (the reference's holdout).
    predicted, score = model.predict(x[train])
    train_accuracy = float((predicted == y[train]).mean())
    header = names + ["band", "score", "predicted", "species"]
    train_rows = [[number(v) for v in x[i]] + [band[i], "%.4f" % score[i], species(predicted[i]),
                                               species(y[i])] for i in range(TRAIN_ROWS)]
    write_csv(os.path.join(OUT_DIR, "train.csv"), header, train_rows)
    train_shares = loss_shares(model, x[background], x[train], y[train])
    write_csv(os.path.join(OUT_DIR, "train_shap.csv"), header + attribution_header,
              (row + attribution_cells(shares) for row, shares in zip(train_rows, train_shares)))

    # Traffic: arrivals, latency and hosts, then the faults, then the model on what it was given.
    tx = x[TRAIN_ROWS:].copy()
    ty = y[TRAIN_ROWS:]
    tband = band[TRAIN_ROWS:].copy()
    n = len(ty)
    rng = np.random.default_rng(SEED_TRAFFIC)
    seconds = np.cumsum(rng.exponential(1.0 / RATE_PER_SECOND, size=n))
    seconds = np.floor(seconds * 1000.0) / 1000.0
    latency = LATENCY_MEDIAN_MS * np.exp(LATENCY_SIGMA * rng.standard_normal(n))
    hosts = rng.integers(0, len(HOSTS), size=n)
    minute = seconds / 60.0

    def window(fault):
        return (minute >= fault["start"]) & (minute < fault["end"])

    # Where the source's change lands in the traffic.
    change_begin = BLOCKS[0][1] - BLOCKS[0][0] - TRAIN_ROWS
    change_end = BLOCKS[1][1] - BLOCKS[0][0] - TRAIN_ROWS
    before = slice(0, change_begin)
    after = np.arange(n) >= change_end
    after &= minute < UNIT_CHANGE["start"]
    accuracy = (train_accuracy,
                float((model.predict(tx[before])[0] == ty[before]).mean()),
                float((model.predict(tx[after])[0] == ty[after]).mean()))
    unit = window(UNIT_CHANGE)
    tx[unit, names.index(UNIT_CHANGE["column"])] *= UNIT_CHANGE["factor"]
    swap = window(LABEL_SWAP)
    a, b = LABEL_SWAP["pair"]
    tband[swap] = np.where(tband[swap] == a, b, np.where(tband[swap] == b, a, tband[swap]))
    burst = window(MISSING_BURST)
    tx[burst, names.index(MISSING_BURST["column"])] = np.nan
    candidates = np.flatnonzero(window(MALFORMED))
    malformed = np.sort(np.random.default_rng(SEED_MALFORMED).choice(
        candidates, size=MALFORMED["count"], replace=False))
    malformed_column = names.index(MALFORMED["column"])
    tx[malformed, malformed_column] = np.nan  # the model sees a missing value
    malformed_set = set(malformed.tolist())
    # The slow host: a fixed share of its requests in the window, drawn with their own seed so
    # that every other random choice stays as it was.
    on_slow_host = np.flatnonzero(window(SLOW_HOST) & (hosts == HOSTS.index(SLOW_HOST["host"])))
    slow = np.sort(np.random.default_rng(SEED_SLOW).choice(
        on_slow_host, size=int(round(SLOW_HOST["share"] * len(on_slow_host))), replace=False))
    latency[slow] *= SLOW_HOST["factor"]
    # The stop: the requests that would have come then never arrive. Later rows keep their
    # times; only their line numbers move up.
    stop = window(ARRIVAL_STOP)
    kept = ~stop
    line = 2 + np.cumsum(kept) - kept  # line of row i in traffic.csv, were it kept

    predicted, score = model.predict(tx)
    # The canary's probability for the class the champion predicts: the same figure as `score`.
    score_canary = canary.probabilities(tx)[np.arange(n), model.class_index(predicted)]
    before_swap = (minute >= LABEL_SWAP["start"] - 10) & (minute < LABEL_SWAP["start"])
    swap_shares = [[float((tband[m] == label).mean()) for label in LABEL_SWAP["pair"]]
                   for m in (before_swap, swap)]

    ids = request_ids(kept)
    variant = assign_variants(minute)

    def traffic_rows():
        for i in np.flatnonzero(kept):
            cells = [number(v) for v in tx[i]]
            if i in malformed_set:
                cells[malformed_column] = MALFORMED["text"]
            yield ([iso(seconds[i]), ids[i], HOSTS[hosts[i]], MODEL_VERSION] + cells +
                   [tband[i], "%.4f" % score[i], species(predicted[i]), species(ty[i]),
                    "%.2f" % latency[i], variant[i], "%.4f" % score_canary[i]])

    header = ["ts", "request_id", "host", "model_version"] + names + ["band", "score", "predicted", "species",
                                                        "latency_ms", "variant", CANARY["column"]]
    write_csv(os.path.join(OUT_DIR, "traffic.csv"), header, traffic_rows())
    shares = loss_shares(model, x[background], tx, ty)
    labelled = write_labels(seconds, kept, ids, ty, attribution_header, shares)
    delays = labelled["delays"]
    labels_summary = (len(delays), kept.sum(), "a median %.1f minutes" % np.median(delays),
                      "5 %% of them within %.1f minutes, 95 %% within %.1f, the longest %.1f" %
                      (np.quantile(delays, 0.05), np.quantile(delays, 0.95), delays.max()),
                      kept.sum() - len(delays))

    responses = write_responses(seconds, kept, ids, variant)
    write_faults(seconds, line, kept, change_begin, change_end, unit, swap, burst, malformed,
                 slow, on_slow_host, stop, latency, cuts, accuracy, swap_shares, labels_summary)
    with open(os.path.join(OUT_DIR, "FAULTS.md"), "a") as out:
        out.write(experiment_note(kept, variant, responses))
        out.write(canary_attribution_note(
            minute, kept, seconds[change_begin] / 60.0, score, score_canary, labelled["rows"],
            shares, model.log_loss(tx, ty), train_shares, model.log_loss(x[train], y[train]),
            names, model, canary, x[train], y[train]))
    print("train.csv: %d rows; traffic.csv: %d rows, %s to %s" %
          (TRAIN_ROWS, kept.sum(), iso(seconds[0]), iso(seconds[-1])))
    print("model accuracy: %.3f on training rows, %.3f on traffic before the drift, "
          "%.3f after it" % accuracy)
    print("labels.csv: %d labels for the %d requests" % labels_summary[:2])


def request_ids(kept):
    """The id of each traffic row: r and its row number among the rows kept, from r00001."""
    ids = np.full(len(kept), "", dtype=object)
    rows = np.flatnonzero(kept)
    ids[rows] = ["r%05d" % (k + 1) for k in range(len(rows))]
    return ids


def attribution_cells(shares):
    """A row's attributions, five significant digits, and 0 for `band`, which the model does not use."""
    return ["%.5g" % v for v in shares] + ["0"]


def write_labels(seconds, kept, ids, truth, attribution_header, shares):
    """labels.csv: request_id, the time the species became known (ts), the species and its
    request's loss attributed to each feature, in time order; drawn with their own seed so
    that the traffic stays as it was. Returns the traffic rows labelled, in the order written,
    and their delays in minutes."""
    rng = np.random.default_rng(SEED_LABELS)
    n = len(seconds)
    confirmed = rng.random(n) < LABELS["share"]
    delay = 60.0 * LABELS["median_minutes"] * np.exp(LABELS["sigma"] * rng.standard_normal(n))
    at = np.floor((seconds + delay) * 1000.0) / 1000.0
    rows = np.flatnonzero(confirmed & kept)
    rows = rows[np.argsort(at[rows], kind="stable")]
    write_csv(os.path.join(OUT_DIR, "labels.csv"), ["request_id", "ts", "species"] + attribution_header,
              ([ids[i], iso(at[i]), species(truth[i])] + attribution_cells(shares[i]) for i in rows))
    return dict(rows=rows, delays=delay[rows] / 60.0)


def assign_variants(minute):
    """The variant each request sees: `list` before the experiment starts, then `card` for a
    share of the requests, drawn with their own seed."""
    rng = np.random.default_rng(SEED_VARIANT)
    card = (minute >= EXPERIMENT["start"]) & (rng.random(len(minute)) < EXPERIMENT["share"])
    return np.where(card, "card", "list")


def write_responses(seconds, kept, ids, variant):
    """conversions.csv: request_id and the time of each response, in time order, up to the
    log's last request; drawn with their own seed. Returns the rows that responded."""
    rng = np.random.default_rng(SEED_RESPONSES)
    n = len(seconds)
    rate = np.array([EXPERIMENT["rates"][v] for v in variant])
    responds = rng.random(n) < rate
    delay = 60.0 * EXPERIMENT["median_minutes"] * np.exp(EXPERIMENT["sigma"] * rng.standard_normal(n))
    at = np.floor((seconds + delay) * 1000.0) / 1000.0
    end = seconds[np.flatnonzero(kept)[-1]]
    rows = np.flatnonzero(responds & kept & (at <= end))
    rows = rows[np.argsort(at[rows], kind="stable")]
    write_csv(os.path.join(OUT_DIR, "conversions.csv"), ["request_id", "ts"], ([ids[i], iso(at[i])] for i in rows))
    return rows


def experiment_note(kept, variant, responses):
    counts = {v: int((kept & (variant == v)).sum()) for v in ("list", "card")}
    answered = {v: int((variant[responses] == v).sum()) for v in ("list", "card")}
    return ("Experiment (synthetic responses, not from INSECTS; conversions.csv): from %s a share of %g of the "
            "requests sees variant `card`, the others `list`; users confirm the identification at %g (`list`) and "
            "%g (`card`) after a lognormal delay of median %g minutes. In the log: %d `list` and %d `card` "
            "requests, %d and %d responses. `card` is better, but its traffic is young at the end of the log: "
            "responses over impressions favour `list`; the rate at the delay by which 60 %% of the responses "
            "came names `card`.\n" %
            (clock(EXPERIMENT["start"]), EXPERIMENT["share"], EXPERIMENT["rates"]["list"],
             EXPERIMENT["rates"]["card"], EXPERIMENT["median_minutes"], counts["list"], counts["card"],
             answered["list"], answered["card"]))


def canary_attribution_note(minute, kept, drift_minute, score, score_canary, labelled, shares, loss,
                            train_shares, train_loss, names, model, canary_model, x_train, y_train):
    """FAULTS.md's section on the canary column and the loss attributions: what each period of
    the traffic does to them, from the values written to the files."""
    features = names + ["band"]
    unit, missing = UNIT_CHANGE["column"], MISSING_BURST["column"]
    saturated_class = model.classes[np.argmax(model.weights[names.index(unit)])]
    # The two features whose weights differ most between the versions, and their correlation.
    apart = sorted(np.argsort(-np.abs(model.weights - canary_model.weights).sum(axis=1))[:2])
    apart_names = [names[i] for i in apart]
    correlation = np.corrcoef(x_train[:, apart[0]], x_train[:, apart[1]])[0, 1]
    champion = np.round(score, 4)
    canary = np.round(score_canary, 4)
    deviation = np.abs(canary - champion)
    shares = np.concatenate([shares, np.zeros((len(shares), 1))], axis=1)  # band: 0
    train_shares = np.concatenate([train_shares, np.zeros((len(train_shares), 1))], axis=1)
    request_minute = minute[labelled]
    end = minute[np.flatnonzero(kept)[-1]] + 1e-9
    periods = [
        ("clean traffic", 0.0, drift_minute),
        ("fault 1, the real drift (to fault 2)", drift_minute, UNIT_CHANGE["start"]),
        ("fault 2, %s x %g" % (UNIT_CHANGE["column"], UNIT_CHANGE["factor"]), UNIT_CHANGE["start"],
         UNIT_CHANGE["end"]),
        ("after the drift, with faults 3 and 4", UNIT_CHANGE["end"], MISSING_BURST["start"]),
        ("fault 5, %s missing" % MISSING_BURST["column"], MISSING_BURST["start"], MISSING_BURST["end"]),
        ("after the drift, to the end", MISSING_BURST["end"], end),
    ]

    def period_clock(begin, finish):
        return "%s | %s" % (iso(begin * 60.0)[11:19], iso(finish * 60.0)[11:19])

    header = ("| period | from | to | requests | mean abs(score_v6 - score) | largest | identical | labels | mean loss | " +
              " | ".join("`%s%s`" % (ATTRIBUTION_PREFIX, f) for f in features) + " |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    lines.append("| training rows (train_shap.csv) | | | | | | | %d | %.3f | %s |" % (
        len(train_loss), train_loss.mean(), " | ".join("%.3f" % v for v in train_shares.mean(axis=0))))
    figures = {}
    for name, begin, finish in periods:
        rows = kept & (minute >= begin) & (minute < finish)
        labels = (request_minute >= begin) & (request_minute < finish)
        mean_shares = shares[labelled[labels]].mean(axis=0)
        figures[begin] = (deviation[rows].mean(), mean_shares, deviation[rows].max())
        lines.append("| %s | %s | %d | %.4f | %.4f | %.0f %% | %d | %.3f | %s |" % (
            name, period_clock(begin, finish), rows.sum(), deviation[rows].mean(), deviation[rows].max(),
            100 * (deviation[rows] == 0).mean(), labels.sum(), loss[labelled[labels]].mean(),
            " | ".join("%.3f" % v if abs(v) < 100 else "%.0f" % v for v in mean_shares)))
    unit_rows = kept & (minute >= UNIT_CHANGE["start"]) & (minute < UNIT_CHANGE["end"])
    saturated = float(((champion[unit_rows] == 1) & (canary[unit_rows] == 1)).mean())
    hour_before = kept & (minute >= UNIT_CHANGE["end"] - 60) & (minute < UNIT_CHANGE["end"])
    burst = figures[MISSING_BURST["start"]]
    between = figures[UNIT_CHANGE["end"]]
    clean = figures[0.0]
    column = {f: i for i, f in enumerate(features)}
    drift_clock = iso(drift_minute * 60.0)[11:16]
    neighbour = [f for f in apart_names if f != missing][0]
    # The features whose share rose most with the drift, in training standard deviations.
    rise = (between[1][:-1] - clean[1][:-1]) / train_shares[:, :-1].std(axis=0)
    drifted = [names[i] for i in np.argsort(-rise) if rise[i] >= DRIFT_EFFECT]
    return "\n".join([
        "",
        "## The canary and the loss attributions",
        "",
        "`%s` (traffic.csv) is the previous model version's probability for the class the champion "
        "predicts; `%s<feature>` (labels.csv, and train_shap.csv for the training rows) is the "
        "request's log-loss shared among the features. Nothing is injected into them: they follow "
        "the faults above. Per period of request times (labels counted with their request):" %
        (CANARY["column"], ATTRIBUTION_PREFIX),
        "",
    ] + lines + [
        "",
        "The canary. %s is right on %.3f of the training rows (%s on %.3f). The two versions "
        "differ by %.4f on average on clean traffic, and hardly more after the real drift "
        "(%.4f): real inputs move both alike, so a monitor should raise no "
        "`canary` alert for fault 1. Fault 2 makes them agree exactly: with %s a thousand times too "
        "large both give `s%d` a probability of 1.0000 on %.0f %% of its requests, so nothing "
        "for the canary to raise there either. Fault 5 is the one that parts them. The versions "
        "differ most in the weights of %s and %s, two correlated features (%.2f on the training "
        "rows) whose large weights the longer fit was still adjusting; with %s at its training mean "
        "the difference no longer cancels, and they differ by %.4f on average (%.1f times as "
        "much as before it), up to %.4f on one request: a `canary` alert on `%s` "
        "within a minute or two of %s, closing after %s. A monitor that compares with the trailing "
        "hour holds fault 2's identical minutes in its background for an hour after %s (the mean "
        "over the hour before %s is %.4f): the ordinary deviation of the requests after it is "
        "then higher than that background, which is fault 2's doing, not a change of the champion." %
        (CANARY["version"], float((canary_model.predict(x_train)[0] == y_train).mean()), MODEL_VERSION,
         float((model.predict(x_train)[0] == y_train).mean()), clean[0], figures[drift_minute][0], unit,
         saturated_class, 100 * saturated, apart_names[0], apart_names[1], correlation, missing, burst[0],
         burst[0] / between[0], burst[2], CANARY["column"], clock(MISSING_BURST["start"]),
         clock(MISSING_BURST["end"]), clock(UNIT_CHANGE["end"]), clock(UNIT_CHANGE["end"]),
         deviation[hour_before].mean()),
        "",
        "The attributions. Fault 2 turns %s from lowering the loss (%.3f on clean traffic) to "
        "raising it by %.0f on average: every request is put on `s%d` with certainty, and the "
        "mean loss is in the thousands. A monitor should raise `attribution` on %s (alert) as "
        "the labels of its requests come in, about ten minutes after them. After the real drift "
        "the features lower the loss less than in training; by at least %.1f training standard "
        "deviations: %s. A monitor should warn on them as the labels of the requests after %s "
        "add up. Fault 5 hardly moves %s's own share (%.3f against %.3f between faults 2 and 5: "
        "after the drift it had lost most of its use); the blame goes to its correlated neighbour "
        "%s (%.3f against "
        "%.3f), a step that a window pooling the whole day's labels sees only as a little more "
        "of the drift. `%sband` is 0 on every row (the model does not use band): no "
        "`attribution` alert on band, ever; fault 4 shows in the band counts only, and fault "
        "3's twelve cells are too few to move a mean." %
        (unit, clean[1][column[unit]], figures[UNIT_CHANGE["start"]][1][column[unit]], saturated_class,
         unit, DRIFT_EFFECT, ", ".join("%s (%.3f -> %.3f)" % (f, clean[1][column[f]], between[1][column[f]])
                                       for f in drifted),
         drift_clock, missing, burst[1][column[missing]], between[1][column[missing]], neighbour,
         burst[1][column[neighbour]], between[1][column[neighbour]], ATTRIBUTION_PREFIX),
        "",
    ])


def write_faults(seconds, line, kept, change_begin, change_end, unit, swap, burst, malformed,
                 slow, on_slow_host, stop, latency, cuts, accuracy, swap_shares, labels_summary):
    def span(mask):
        rows = np.flatnonzero(mask & kept)
        return "%d rows (%d-%d)" % (len(rows), line[rows[0]], line[rows[-1]])

    n = len(seconds)
    last = iso(seconds[-1])
    # What the slow host's requests look like without and with the fault, in the window.
    normal = np.setdiff1d(on_slow_host, slow)
    stopped = np.flatnonzero(stop)
    before_stop = np.flatnonzero(seconds < ARRIVAL_STOP["start"] * 60.0)[-1]
    after_stop = np.flatnonzero(seconds >= ARRIVAL_STOP["end"] * 60.0)[0]
    lines = [
        "# Faults in traffic.csv",
        "",
        "Generated by `scripts/make_demo_data.py`; do not edit by hand. Times are the `ts` of",
        "traffic.csv (UTC); a window holds the rows with start <= ts < end. Row numbers count",
        "the header as line 1, as an editor shows them.",
        "",
        "The first %d minutes (to %s) are clean traffic drawn from the same" %
        (int(seconds[change_begin] // 60), clock(int(seconds[change_begin] // 60))),
        "before-the-change part of the source as train.csv, so a background can form.",
        "",
        "| # | fault | column | start | end | rows | what a monitor should raise |",
        "|---|---|---|---|---|---|---|",
        "| 1 | real gradual drift of INSECTS (temperature change); source rows 13,801-14,028 are "
        "the change, 14,029 on are after it (reference drift point 14,028) | all features "
        "(strongest f01, f02, f07, f08-f11), `band` (share of `low` about 50%% -> 67%%), "
        "`score`, `predicted` | %s (change begins, minute "
        "%.1f); %s (after the change, minute %.1f) | to the end (%s) | %d (lines %d-%d) | "
        "`feature_drift` against the training profile on several features within minutes of "
        "the change, persisting to the end; `score_drift` and `class_drift` on the output; "
        "`quality` on `accuracy` as the late labels of the requests after the change come in "
        "(labels.csv, about 10 minutes after their request; the same species as the column "
        "`species`) |" %
        (iso(seconds[change_begin]), seconds[change_begin] / 60, iso(seconds[change_end]),
         seconds[change_end] / 60, last, kept[change_begin:].sum(), line[change_begin],
         line[n - 1]),
        "| 2 | unit change: values x %g (a sensor reporting in other units), then fixed | %s | "
        "%s | %s | %s | `out_of_range` and `feature_shift` on %s within a minute or two, closing "
        "after the fix; `score_drift` (confidence saturates) |" %
        (UNIT_CHANGE["factor"], UNIT_CHANGE["column"], clock(UNIT_CHANGE["start"]),
         clock(UNIT_CHANGE["end"]), span(unit), UNIT_CHANGE["column"]),
        "| 3 | malformed cells: the text `%s` in a numeric column, %d cells | %s | %s | %s | "
        "%d (lines %s) | counted as unparsable values of %s (the replay must not stop); at most "
        "a `schema` warning, no drift alert |" %
        (MALFORMED["text"], MALFORMED["count"], MALFORMED["column"], clock(MALFORMED["start"]),
         clock(MALFORMED["end"]), len(malformed), ", ".join(str(line[i]) for i in malformed),
         MALFORMED["column"]),
        "| 4 | swapped category labels: `%s` and `%s` exchanged | %s | %s | %s | %s | "
        "`feature_shift` (or `class_drift` on the category) for %s: in the 10 minutes before, "
        "`%s` is %.0f%% and `%s` %.0f%% of rows; during the swap %.0f%% and %.0f%%; closes "
        "after the fix |" %
        (LABEL_SWAP["pair"][0], LABEL_SWAP["pair"][1], LABEL_SWAP["column"],
         clock(LABEL_SWAP["start"]), clock(LABEL_SWAP["end"]), span(swap),
         LABEL_SWAP["column"], LABEL_SWAP["pair"][0], 100 * swap_shares[0][0],
         LABEL_SWAP["pair"][1], 100 * swap_shares[0][1], 100 * swap_shares[1][0],
         100 * swap_shares[1][1]),
        "| 5 | burst of missing values: every cell empty | %s | %s | %s | %s | "
        "`missing_values` on %s within a minute or two, closing after the burst |" %
        (MISSING_BURST["column"], clock(MISSING_BURST["start"]), clock(MISSING_BURST["end"]),
         span(burst), MISSING_BURST["column"]),
        "| 6 | slow host: latency x %g on %d of its %d requests (%.0f%%), the rest unchanged "
        "(its median %.1f ms, largest unaffected %.1f ms; the slow ones %.0f-%.0f ms) | "
        "`latency_ms` where `host` = %s | %s | %s | %d (lines %s) | `latency` naming "
        "`host=%s` (over-represented among the slow requests) within a few minutes, once enough "
        "slow requests are in the latency window; `latency` on all requests as their p99 rises |" %
        (SLOW_HOST["factor"], len(slow), len(on_slow_host), 100 * len(slow) / len(on_slow_host),
         np.median(latency[normal]), latency[normal].max(), latency[slow].min(),
         latency[slow].max(), SLOW_HOST["host"], clock(SLOW_HOST["start"]),
         clock(SLOW_HOST["end"]), len(slow), ", ".join(str(line[i]) for i in slow),
         SLOW_HOST["host"]),
        "| 7 | arrivals stop: no request at all (the %d that the Poisson stream drew for the "
        "window are left out of the file) | every column | %s | %s | none: the last row "
        "before is line %d (%s), the next line %d (%s) | `traffic` on `arrivals` (fewer "
        "requests than predicted) within a couple of minutes |" %
        (len(stopped), clock(ARRIVAL_STOP["start"]), clock(ARRIVAL_STOP["end"]),
         line[before_stop], iso(seconds[before_stop]), line[after_stop],
         iso(seconds[after_stop])),
        "",
        "Nothing else is injected: arrivals are otherwise a Poisson process at %g per second, "
        "latency is otherwise lognormal (median %g ms) on every host, so any other `traffic` "
        "or `latency` alert is a false alarm." % (RATE_PER_SECOND, LATENCY_MEDIAN_MS),
        "",
        "Band cut points (from f06 on the training rows): low < %s <= mid < %s <= high." %
        (number(cuts[0]), number(cuts[1])),
        "",
        "Model accuracy (predicted = species): %.3f on train.csv, %.3f on traffic before the "
        "drift, %.3f on traffic after it (before fault 2)." % accuracy,
        "",
        "Late labels (labels.csv): the species of %d of the %d requests, each %s after its "
        "request (%s); the other %d requests are never labelled." % labels_summary,
        "",
    ]
    with open(os.path.join(OUT_DIR, "FAULTS.md"), "w") as out:
        out.write("\n".join(lines))


if __name__ == "__main__":
    os.makedirs(OUT_DIR, exist_ok=True)
    main()
