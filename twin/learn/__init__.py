"""Learning from synthetic gaits: estimators of gait parameters, self-supervised pretraining, a fast surrogate.

After Yamada et al. (Nat Commun 16:6188, 2025): models trained only on
synthetic walking estimate gait parameters from real sensors they never saw.

* :mod:`twin.learn.data` -- :class:`WindowSpec`, :func:`make_windows`:
  fixed-length, normalised windows of 2-D keypoints (hip-centred, scaled by
  the leg length in pixels) or IMU signals (units checked), as a plain
  :class:`xarray.Dataset` (``x(window, channel, sample)``, ``leg_length``,
  labels ``y(window, target)``, ``group``), whatever made the recording.
* :mod:`twin.learn.synthetic` -- :class:`Gaits` from a population store
  (:func:`gaits_from_population`), a physics run (:func:`simulated_gaits`)
  or kinematic synthesis (:func:`kinematic_gaits`); :func:`sensor_windows`
  renders virtual keypoints / IMUs with domain randomisation.
* :mod:`twin.learn.models` -- :class:`TemporalCNN` (1-D convolutions,
  global pooling, MLP head), :func:`train`, :class:`Estimator`
  (``predict``, ``save``), :func:`load_estimator`.
* :mod:`twin.learn.pretrain` -- masked-reconstruction pretraining
  (:func:`pretrain`) and :func:`finetune`.
* :mod:`twin.learn.evaluate` -- the real trials under ``TWIN_DATA_DIR``
  with ground truth (:func:`load_real_trials`), their keypoints and IMUs
  from real markers, the heuristic baseline, leave-one-trial-out training on
  real data, the SSL experiment, :func:`score` (per-trial MAE and r).
* :mod:`twin.learn.surrogate` -- :class:`Surrogate`: body/scenario
  parameters -> mean gait cycle, speed and cadence in about a millisecond;
  trained on its own rollouts (:func:`simulate_outcomes`) or on a simulated
  population store (:func:`train_on_population`).

``twin bench learn`` (``benchmarks/bench_learn.py``) runs it all and reports
the figures.

Examples
--------
>>> import numpy as np, torch
>>> torch.set_num_threads(1)
>>> from twin.learn import WindowSpec, windows_dataset, train
>>> spec = WindowSpec("imu", duration=1.28, sensors=("tibia_r",), channels=("gyro_z",))
>>> t = np.arange(spec.n_samples) / spec.rate
>>> f = np.linspace(0.7, 1.2, 32)
>>> w = windows_dataset(np.sin(2 * np.pi * f[:, None] * t)[:, None], spec, leg_length=0.9,
...                     y=np.stack([1.3 * f, 120 * f, np.full(32, 1.3)], 1))
>>> train(w, epochs=2, seed=0).predict(w).y_pred.shape
(32, 3)
"""

from .data import (
    IMU_CHANNELS,
    IMU_SENSORS,
    KEYPOINTS,
    TARGET_UNITS,
    TARGETS,
    WindowSpec,
    concat_windows,
    leg_length_from_height,
    leg_length_from_markers,
    make_windows,
    spec_of,
    windows_dataset,
)
from .evaluate import (
    REAL_SUBJECTS,
    REAL_TRIALS,
    STATIC_CALIBRATION,
    RealTrial,
    alexander_stride,
    heuristic_predict,
    joint_markers,
    landmarks_from_static,
    leave_one_trial_out,
    load_real_trials,
    real_imu,
    real_keypoints,
    real_windows,
    score,
    ssl_experiment,
)
from .models import (ANKLE_SEPARATION_FLOOR, Encoder, EnsembleCNN, Estimator, TemporalCNN, ankle_separation,
                     ensemble, load_estimator, train)
from .pretrain import Pretrained, finetune, load_pretrained, pretrain
from .surrogate import (
    PARAMETERS,
    POPULATION_PARAMETERS,
    Surrogate,
    load_surrogate,
    population_inputs,
    population_outcomes,
    sample_parameters,
    simulate_outcomes,
    train_on_population,
    train_surrogate,
)
from .synthetic import Gaits, gaits_from_population, kinematic_gaits, sensor_windows, simulated_gaits

__all__ = [
    "TARGETS", "TARGET_UNITS", "KEYPOINTS", "IMU_SENSORS", "IMU_CHANNELS",
    "WindowSpec", "make_windows", "windows_dataset", "concat_windows", "spec_of", "leg_length_from_markers",
    "leg_length_from_height",
    "Gaits", "kinematic_gaits", "simulated_gaits", "gaits_from_population", "sensor_windows",
    "Encoder", "TemporalCNN", "EnsembleCNN", "Estimator", "train", "ensemble", "load_estimator", "ankle_separation",
    "ANKLE_SEPARATION_FLOOR",
    "Pretrained", "pretrain", "finetune", "load_pretrained",
    "REAL_TRIALS", "REAL_SUBJECTS", "STATIC_CALIBRATION", "RealTrial", "load_real_trials", "landmarks_from_static",
    "joint_markers", "real_keypoints", "real_imu", "real_windows",
    "heuristic_predict", "alexander_stride", "score", "leave_one_trial_out", "ssl_experiment",
    "PARAMETERS", "Surrogate", "sample_parameters", "simulate_outcomes", "train_surrogate", "load_surrogate",
    "POPULATION_PARAMETERS", "population_inputs", "population_outcomes", "train_on_population",
]
