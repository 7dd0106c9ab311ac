"""Synthetic gaits: virtual sensors and labels for models that learn only from simulated walking.

After Yamada et al. (Nat Commun 16:6188, 2025): gaits simulated by the engine
for many bodies and impairments are rendered into what real instruments
would record, and labelled with the gait parameters a clinician measures, so
that estimators trained on them can be applied to real recordings.

* :mod:`twin.synth.sensors` -- :func:`markers_from_q` (virtual skin
  markers), :func:`imu_from_q` (accelerometer + gyroscope on segments),
  :func:`imu_from_markers` (the same from real marker trajectories),
  :func:`mounting_from_markers`.
* :mod:`twin.synth.camera` -- :class:`Camera` (pinhole + radial distortion,
  fixed or panning), :func:`keypoints_2d` (COCO-17 / OpenPose BODY_25 2D
  keypoints with noise, occlusions and dropped frames, as
  :func:`twin.io.read_keypoints` returns them), :func:`randomize_camera`.
* :mod:`twin.synth.labels` -- :func:`gait_labels` (speed, cadence, stride
  and step length, stance %, step-time asymmetry, mean joint-angle curves).
* :mod:`twin.synth.population` -- :func:`sample_population` (bodies,
  strength, impairments and target speeds from documented priors,
  :data:`DEFAULT_PRIORS`), :func:`subject_body`, :func:`subject_scenarios`,
  :func:`subject`.
* :mod:`twin.synth.generate` -- :func:`generate` (the population simulated
  in engine batches, one Dask task per chunk, into a resumable zarr
  store), :func:`load_population`, :func:`verify_population`; on the
  command line ``twin synth`` (:mod:`twin.synth.cli`).

Every output is an xarray Dataset following :mod:`twin.schema` (a leading
``batch`` dim when the input is a batch Simulation).

Examples
--------
>>> from twin.synth import Camera
>>> cam = Camera.fixed("sagittal", distance=4.0, height=1.0)
>>> cam.project([[0.0, 1.0, 0.0]]).round(1).tolist()    # the point the camera looks at: image centre
[[960.0, 540.0]]
"""

from .camera import Camera, keypoints_2d, randomize_camera
from .generate import generate, load_population, verify_population
from .labels import gait_labels
from .population import DEFAULT_PRIORS, Priors, sample_population, subject, subject_body, subject_scenarios
from .sensors import (
    DEFAULT_IMU_LOCATIONS,
    SEGMENT_MARKERS,
    imu_from_markers,
    imu_from_q,
    markers_from_q,
    mounting_from_markers,
)

__all__ = [
    "markers_from_q",
    "imu_from_q",
    "imu_from_markers",
    "mounting_from_markers",
    "DEFAULT_IMU_LOCATIONS",
    "SEGMENT_MARKERS",
    "Camera",
    "keypoints_2d",
    "randomize_camera",
    "gait_labels",
    "sample_population",
    "subject_body",
    "subject_scenarios",
    "subject",
    "Priors",
    "DEFAULT_PRIORS",
    "generate",
    "load_population",
    "verify_population",
]
