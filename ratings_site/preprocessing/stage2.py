"""Stage II: from the chosen sources to a balanced, masked study (paper, section 3).

The funnel: imported -> face found -> frontal (|yaw| < 15) -> SVM-scored -> gender known ->
per stratum (svm_class x gender) -> sampled. Every step reuses stored work, so a resumed
job only does what is missing. The study it creates is a draft: the researcher reviews the
sample preview (and any short stratum) and launches it.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from itertools import product

from django.db import transaction

from ratings_site.catalog.models import Image
from ratings_site.core.errors import ServiceError
from ratings_site.jobs.models import Job
from ratings_site.jobs.services import job_create, job_enqueue
from ratings_site.studies.models import Study
from ratings_site.studies.sampling import study_sample_plan
from ratings_site.studies.services import study_create

from . import errors
from .analysis import YAW_FRONTAL_LIMIT, AnalysisOptions, analyzer_for, faces_analyse, images_metadata_merge, metadata_for
from .masking import display_faces_write
from .models import FaceAnalysis, Stage2Run, SvmModelVersion, SvmScore
from .svm import svm_apply

STRATA = ["svm_class", "gender"]
EXPECTED_STRATA = list(product(("natural", "unnatural"), ("female", "male")))  # the paper's 2 x 2 balance
STAGES = ["imported", "face_found", "frontal", "svm_scored", "gender_known", "masked", "sampled"]


def stage2_analysis_options(run_or_params: dict, version: SvmModelVersion) -> AnalysisOptions:
    """The run's backends, with the features the SVM was trained on."""
    params = dict(run_or_params or {})
    wanted = params.get("features")
    if wanted not in (None, "auto", version.features_backend):
        detail = f"features={wanted!r} but SVM v{version.number} needs '{version.features_backend}' features"
        raise ServiceError(errors.BAD_BACKEND.format(detail=detail), code="bad_backend")
    params["features"] = version.features_backend
    return AnalysisOptions.from_params(params)


def stage2_start(
    *, sources, svm_version: SvmModelVersion, name: str = "Stage II naturalness", sample_size: int | None = None,
    n_batches: int = 72, raters_per_batch: int = 3, seed: int = 0, analysis: dict | None = None, user=None,
) -> Stage2Run:
    sources = list(sources or [])
    if not sources:
        raise ServiceError(errors.STAGE2_NO_SOURCES, code="no_sources")
    stage2_analysis_options(analysis, svm_version)  # refuse bad backends before queueing
    with transaction.atomic():
        run = Stage2Run.objects.create(
            name=name, svm_version=svm_version, sample_size=sample_size, n_batches=n_batches,
            raters_per_batch=raters_per_batch, seed=seed, analysis_config=analysis or {}, created_by=user,
        )
        run.sources.set(sources)
        run.job = job_create(kind=Job.Kind.STAGE2, params={"run": run.pk}, user=user)
        run.save(update_fields=["job"])
        job_enqueue(job=run.job)
    return run


def _funnel_rows(images: dict[int, str], records: dict[int, FaceAnalysis], scores: dict[int, SvmScore],
                 masked: set[int], sampled: set[int]) -> dict:
    counts: dict[str, Counter] = defaultdict(Counter)
    strata: Counter = Counter()
    for image_id, source in images.items():
        row = counts[source]
        row["imported"] += 1
        record = records.get(image_id)
        if record is None or record.status != FaceAnalysis.Status.OK:
            continue
        row["face_found"] += 1
        if abs(record.yaw) >= YAW_FRONTAL_LIMIT:
            continue
        row["frontal"] += 1
        score = scores.get(image_id)
        if score is None:
            continue
        row["svm_scored"] += 1
        if not record.gender:
            continue
        row["gender_known"] += 1
        strata[f"{score.label} x {record.gender}"] += 1
        row["masked"] += image_id in masked
        row["sampled"] += image_id in sampled
    total = Counter()
    for row in counts.values():
        total.update(row)
    as_dict = lambda c: {stage: int(c.get(stage, 0)) for stage in STAGES}  # noqa: E731
    return {"stages": STAGES, "total": as_dict(total), "by_source": {s: as_dict(c) for s, c in sorted(counts.items())},
            "available_per_stratum": dict(sorted(strata.items()))}


def _study_for(run: Stage2Run, balanced_size: int) -> Study:
    if run.study_id:
        return run.study
    sample_size = run.sample_size or max(balanced_size, run.n_batches)
    study = study_create(
        name=run.name,
        description=f"Built by stage II run #{run.pk} from SVM v{run.svm_version.number}.",
        # masked: raters never see an unmasked face; svm_version: classes of this SVM only.
        metadata_filter={"face": "yes", "frontal": "yes", "masked": "yes", "svm_version": run.svm_version.number},
        strata=list(STRATA),
        sample_size=sample_size,
        n_batches=run.n_batches,
        raters_per_batch=run.raters_per_batch,
        seed=run.seed,
        user=run.created_by,
        sources=run.sources.all(),
    )
    Stage2Run.objects.filter(pk=run.pk).update(study=study)
    run.study = study
    return study


def stage2_build(*, run: Stage2Run, on_progress=None, should_stop=None) -> dict:
    """Run the funnel for `run`: RUNNING while it works, DONE with the funnel, or FAILED with
    the reason a rule was broken (the job says it too)."""
    Stage2Run.objects.filter(pk=run.pk).update(status=Stage2Run.Status.RUNNING)
    try:
        return _stage2_build(run=run, on_progress=on_progress, should_stop=should_stop)
    except ServiceError as exc:
        Stage2Run.objects.filter(pk=run.pk).update(status=Stage2Run.Status.FAILED, problems=[exc.message])
        raise


def _stage2_build(*, run: Stage2Run, on_progress=None, should_stop=None) -> dict:
    version = run.svm_version
    options = stage2_analysis_options(run.analysis_config, version)
    images = dict(Image.objects.filter(source__in=run.sources.all()).values_list("id", "source__slug"))
    ids = sorted(images)
    step = lambda name: (lambda done, total, msg="": on_progress and on_progress(done, total, f"{name}: {msg}"))  # noqa: E731

    # 1. Faces: analyse what has no analysis with the SVM's features yet.
    analysed = set(FaceAnalysis.objects.filter(image_id__in=ids, features_version=version.features_version)
                   .values_list("image_id", flat=True))
    todo = [i for i in ids if i not in analysed]
    if todo:
        produced = analyzer_for(options).backends().get("features", {}).get("version")
        if produced != version.features_version:
            detail = f"this machine's '{version.features_backend}' features are '{produced}', SVM v{version.number} used '{version.features_version}'"
            raise ServiceError(errors.BACKEND_UNAVAILABLE.format(detail=detail), code="features_mismatch")
        faces_analyse(image_ids=todo, options=options, job_id=run.job_id, on_progress=step("faces"), should_stop=should_stop)
    records = _latest_records(ids, version.features_version)
    images_metadata_merge({i: metadata_for(r) for i, r in records.items()})  # the funnel's record decides

    # 2. SVM: score the frontal faces.
    frontal = [i for i, r in records.items() if r.status == FaceAnalysis.Status.OK and abs(r.yaw) < YAW_FRONTAL_LIMIT]
    svm_apply(version=version, image_ids=frontal, on_progress=step("SVM"), should_stop=should_stop)
    scores = {s.image_id: s for s in SvmScore.objects.filter(version=version, image_id__in=frontal)}
    eligible = [i for i in frontal if i in scores and records[i].gender]
    if not eligible:
        raise ServiceError(errors.STAGE2_EMPTY, code="empty")

    # 3. Mask what raters will see.
    masking = display_faces_write(image_ids=eligible, features_version=version.features_version,
                                  on_progress=step("masking"), should_stop=should_stop)
    masked = set(Image.objects.filter(pk__in=eligible, metadata__masked="yes").values_list("id", flat=True))

    # 4. The study and its balanced sample.
    per_stratum = Counter((scores[i].label, records[i].gender) for i in eligible)
    balanced = len(per_stratum) * min(per_stratum.values())
    study = _study_for(run, balanced)
    plan = study_sample_plan(study)
    funnel = _funnel_rows(images, records, scores, masked, set(plan.image_ids))
    funnel["strata"] = [{"stratum": s.label, "available": s.available, "quota": s.quota, "short": s.short} for s in plan.strata]
    problems = list(plan.problems)
    for key in sorted(set(EXPECTED_STRATA) - set(per_stratum)):  # a stratum with no image at all
        label = " x ".join(key)
        funnel["strata"].append({"stratum": label, "available": 0, "quota": None, "short": None})
        problems.append(errors.STAGE2_STRATUM_EMPTY.format(stratum=label))
    funnel["sample_size"] = study.sample_size
    funnel["masking"] = masking
    Stage2Run.objects.filter(pk=run.pk).update(funnel=funnel, problems=problems, status=Stage2Run.Status.DONE)
    short = f"; {len(problems)} problem(s): see the run" if problems else ""
    return {"run": run.pk, "study": study.pk, "funnel": funnel["total"], "problems": problems,
            "message": f"study #{study.pk}: {len(plan.image_ids)} images sampled{short}"}


def _latest_records(ids: list[int], features_version: str) -> dict[int, FaceAnalysis]:
    """The newest analysis per image (ok or failed) made with the SVM's features."""
    latest: dict[int, FaceAnalysis] = {}
    rows = FaceAnalysis.objects.filter(image_id__in=ids, features_version=features_version).defer("features")
    for row in rows.order_by("image_id", "-created_at", "-id"):
        latest.setdefault(row.image_id, row)
    return latest
