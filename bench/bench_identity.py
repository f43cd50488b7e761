"""Agreement and speed of the PyTorch port of dlib's face-recognition ResNet vs dlib's C++.

For every face found (skimage astronaut + its mirror, and the face sets under
/work/shared/data when present) it computes
  * dlib's descriptor: face_recognition_model_v1.compute_face_descriptor(img, shape)
  * the port's descriptor on the same chip (dlib.get_face_chip(img, shape, 150, 0.25))
  * the identity wrapper's descriptor on that chip resized to 128x128 in [-1, 1]
    (the LEGAN path: an aligned 128 crop, resized back to 150 inside the network)
and prints max |difference|, cosine similarities, and whether same/different-person
decisions at dlib's 0.6 distance threshold agree over all pairs. Then it times dlib's
C++ against the port (faces per second) on this machine's CPU (and CUDA when present).

    python bench/bench_identity.py [--data /work/shared/data] [--max-per-set 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from legan.identity import DlibFaceResNet, get_identity_network  # noqa: E402
from legan.identity.network import DLIB_SAME_PERSON_DISTANCE  # noqa: E402
from legan.identity.weights import (  # noqa: E402
    DLIB_RECOGNITION_FILE,
    DLIB_SHAPE_PREDICTOR_5_FILE,
    face_recognition_models_file,
)

DEFAULT_DATA = Path("/work/shared/data")
FACE_SETS = {  # folder -> (glob patterns, subject id from the file name)
    "jaffe": (("*.tiff",), lambda name: name.split(".")[0]),
    "yale_a": (("subject*",), lambda name: name.split(".")[0]),
    "stylegan2ada_samples": (("*.png",), lambda name: name),  # synthetic: one face each
}


@dataclass
class Face:
    source: str
    subject: str
    image: np.ndarray  # (H, W, 3) uint8
    shape: object  # dlib.full_object_detection
    chip: np.ndarray  # (150, 150, 3) uint8


def load_rgb(path: Path) -> np.ndarray | None:
    from faces.errors import UnreadableImageError
    from faces.io import load_rgb as decode  # the project's one decoder

    try:
        return decode(path)
    except UnreadableImageError:  # unreadable file in a data folder: skip it
        return None


def iter_images(data_root: Path, max_per_set: int):
    import skimage.data
    astronaut = skimage.data.astronaut()
    yield "astronaut", "astronaut", astronaut
    yield "astronaut", "astronaut", np.ascontiguousarray(astronaut[:, ::-1])
    for folder, (patterns, subject_of) in FACE_SETS.items():
        root = data_root / folder
        if not root.is_dir():
            continue
        paths = sorted(p for pattern in patterns for p in root.glob(pattern))[:max_per_set]
        for path in paths:
            image = load_rgb(path)
            if image is not None:
                yield folder, subject_of(path.name), image


def collect_faces(data_root: Path, max_per_set: int, detector, predictor) -> list[Face]:
    import dlib
    faces = []
    for source, subject, image in iter_images(data_root, max_per_set):
        boxes = detector(image, 1)
        if len(boxes) == 0:
            continue
        box = max(boxes, key=lambda r: r.area())
        shape = predictor(image, box)
        chip = dlib.get_face_chip(image, shape, size=150, padding=0.25)
        faces.append(Face(source, subject, image, shape, chip))
    return faces


def to_chw(chips: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()  # (B, 3, 150, 150)


def resize_to_128(chip: np.ndarray) -> np.ndarray:
    import cv2
    return cv2.resize(chip, (128, 128), interpolation=cv2.INTER_AREA)


@torch.no_grad()
def port_descriptors(model, chips, batch=32) -> np.ndarray:
    return np.concatenate([model(to_chw(chips[i:i + batch])).numpy() for i in range(0, len(chips), batch)])


@torch.no_grad()
def wrapper_descriptors(wrapper, chips, batch=32) -> np.ndarray:
    out = []
    for i in range(0, len(chips), batch):
        crops = to_chw([resize_to_128(c) for c in chips[i:i + batch]]) / 127.5 - 1.0  # (B, 3, 128, 128)
        out.append(wrapper(crops).numpy())
    return np.concatenate(out)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def pair_decisions(desc: np.ndarray) -> np.ndarray:
    dist = np.linalg.norm(desc[:, None] - desc[None], axis=-1)
    iu = np.triu_indices(len(desc), 1)
    return dist[iu] < DLIB_SAME_PERSON_DISTANCE


def report_agreement(name: str, ref: np.ndarray, other: np.ndarray, subjects: list[str]) -> None:
    cos = cosine_rows(ref, other)
    same_ref, same_other = pair_decisions(ref), pair_decisions(other)
    subj = np.array(subjects)
    iu = np.triu_indices(len(subj), 1)
    truth = subj[iu[0]] == subj[iu[1]]
    print(f"  {name}:")
    print(f"    max |diff| {np.abs(ref - other).max():.3e}   max L2 dist {np.linalg.norm(ref - other, axis=1).max():.3e}")
    print(f"    cosine(dlib, this path): min {cos.min():.7f}  mean {cos.mean():.7f}")
    print(f"    0.6-threshold pair decisions agreeing: {(same_ref == same_other).sum()}/{len(same_ref)}"
          f"  (disagreements {(same_ref != same_other).sum()})")
    print(f"    pair accuracy vs subject labels (all pairs): dlib {(same_ref == truth).mean():.4f}"
          f"  this path {(same_other == truth).mean():.4f}")


def _dlib_pass(rec, chips) -> None:
    if len(chips) == 1:
        rec.compute_face_descriptor(chips[0])
    else:
        rec.compute_face_descriptor(chips)


@torch.no_grad()
def _port_pass(model, x: torch.Tensor) -> None:
    model(x)
    if x.device.type == "cuda":
        torch.cuda.synchronize()


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare_throughput(rec, model, chips, batch: int, rounds: int) -> tuple[float, float]:
    """Median faces/s of dlib and of the port, timed in alternating rounds so that load
    from other processes on the machine hits both alike."""
    chips = chips[:batch]
    x = to_chw(chips)
    _dlib_pass(rec, chips), _port_pass(model, x)  # warm-up
    dlib_s, port_s = [], []
    for _ in range(rounds):
        dlib_s.append(_seconds(lambda: _dlib_pass(rec, chips)))
        port_s.append(_seconds(lambda: _port_pass(model, x)))
    return batch / float(np.median(dlib_s)), batch / float(np.median(port_s))


def time_port(model, chips, batch: int, rounds: int, device: torch.device) -> float:
    x = to_chw(chips[:batch]).to(device)
    _port_pass(model, x)  # warm-up
    return batch / float(np.median([_seconds(lambda: _port_pass(model, x)) for _ in range(rounds)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-per-set", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 by default: dlib's CPU net runs on one thread, and "
                             "more torch threads stall badly when other processes share the cores)")
    parser.add_argument("--rounds", type=int, default=15, help="alternating timing rounds per batch size")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import dlib
    rec_path = face_recognition_models_file(DLIB_RECOGNITION_FILE)
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(face_recognition_models_file(DLIB_SHAPE_PREDICTOR_5_FILE)))
    rec = dlib.face_recognition_model_v1(str(rec_path))

    start = time.perf_counter()
    model = DlibFaceResNet.from_dlib_file(rec_path).eval()
    print(f"parsed {rec_path.name} into the torch port in {time.perf_counter() - start:.2f} s")
    wrapper = get_identity_network("dlib")

    faces = collect_faces(args.data, args.max_per_set, detector, predictor)
    counts = {s: sum(f.source == s for f in faces) for s in dict.fromkeys(f.source for f in faces)}
    print(f"faces found: {len(faces)} {counts}  (dlib {dlib.__version__}, torch {torch.__version__})")

    ref = np.array([np.array(rec.compute_face_descriptor(f.image, f.shape)) for f in faces])
    chips = [f.chip for f in faces]
    subjects = [f.subject for f in faces]
    print("agreement with dlib.face_recognition_model_v1.compute_face_descriptor:")
    report_agreement("port on dlib's 150x150 chip", ref, port_descriptors(model, chips), subjects)
    report_agreement("wrapper on the chip resized to 128, [-1,1]", ref, wrapper_descriptors(wrapper, chips), subjects)

    print(f"throughput (faces/s, median of {args.rounds} alternating rounds), CPU, torch threads={args.threads}:")
    for batch in (1, 32):
        if batch > len(chips):
            continue
        d, p = compare_throughput(rec, model, chips, batch, args.rounds)
        print(f"  batch {batch:>2}: dlib C++ {d:8.1f}   torch port {p:8.1f}   ratio port/dlib {p / d:.2f}")
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        model_gpu = DlibFaceResNet.from_dlib_file(rec_path).eval().to(gpu)
        big = (chips * (256 // len(chips) + 1))[:256]
        print(f"  CUDA batch 256: torch port {time_port(model_gpu, big, 256, args.rounds, gpu):.1f}")


if __name__ == "__main__":
    main()
