"""Pipelines: ordered stages on a record type, their transitions, history and forecast.

Pipelines are data: plugins declare defaults through ``accord_pipelines``; the rows in the
``pipeline`` and ``pipeline_stage`` tables are what every worker reads, so packs and admins
can add, relabel and reorder stages without code.
"""

from dataclasses import dataclass

from sqlalchemy import select

from .models import Pipeline, PipelineStage

OUTCOMES = ("open", "won", "lost")


@dataclass(frozen=True)
class StageDef:
    key: str
    label: str
    position: int
    probability: int
    outcome: str = "open"
    allowed_next: tuple | None = None
    reasons: tuple = ()

    def to_json(self):
        return {
            "key": self.key, "label": self.label, "position": self.position,
            "probability": self.probability, "outcome": self.outcome,
            "allowed_next": list(self.allowed_next) if self.allowed_next is not None else None,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class PipelineDef:
    key: str
    record_type: str
    label: str
    is_default: bool
    stages: tuple

    def stage(self, key):
        for stage in self.stages:
            if stage.key == key:
                return stage
        return None

    @property
    def first_stage(self):
        return self.stages[0]

    def refusal(self, from_key, to_key):
        """Why moving ``from_key`` → ``to_key`` is not allowed, or ``None``."""
        target = self.stage(to_key)
        if target is None:
            return f"'{to_key}' is not a stage of the {self.label} pipeline; stages: " + ", ".join(
                s.key for s in self.stages
            )
        if from_key is None or from_key == to_key:
            return None
        source = self.stage(from_key)
        if source is not None and source.allowed_next is not None and to_key not in source.allowed_next:
            allowed = ", ".join(source.allowed_next) or "none"
            return f"cannot move from '{from_key}' to '{to_key}'; allowed: {allowed}"
        return None

    def to_json(self):
        return {
            "key": self.key, "record_type": self.record_type, "label": self.label,
            "default": self.is_default, "stages": [s.to_json() for s in self.stages],
        }


def load_pipelines(session):
    """Every pipeline as stored, keyed by pipeline key."""
    pipelines = session.execute(select(Pipeline)).scalars().all()
    stages = session.execute(select(PipelineStage).order_by(PipelineStage.position, PipelineStage.id)).scalars().all()
    by_pipeline = {}
    for stage in stages:
        by_pipeline.setdefault(stage.pipeline_id, []).append(
            StageDef(
                key=stage.key, label=stage.label, position=stage.position,
                probability=stage.probability, outcome=stage.outcome,
                allowed_next=tuple(stage.allowed_next) if stage.allowed_next is not None else None,
                reasons=tuple(stage.reasons or ()),
            )
        )
    return {
        p.key: PipelineDef(p.key, p.record_type, p.label, p.is_default, tuple(by_pipeline.get(p.id, ())))
        for p in pipelines
    }


def validate_definition(definition, origin):
    """Check a pipeline declared by ``origin``; raise ``ValueError`` naming what is wrong."""
    where = f"pipeline {definition.get('key')!r} from {origin}"
    for required in ("key", "record_type", "label", "stages"):
        if not definition.get(required):
            raise ValueError(f"{where}: '{required}' is required")
    keys = [stage.get("key") for stage in definition["stages"]]
    if len(set(keys)) != len(keys) or not all(keys):
        raise ValueError(f"{where}: stage keys must be present and unique")
    for stage in definition["stages"]:
        if stage.get("outcome", "open") not in OUTCOMES:
            raise ValueError(f"{where}: stage {stage['key']!r} has outcome {stage.get('outcome')!r}; use one of {OUTCOMES}")
        probability = stage.get("probability", 0)
        if not isinstance(probability, int) or not 0 <= probability <= 100:
            raise ValueError(f"{where}: stage {stage['key']!r} probability must be a whole number 0-100")
        unknown = set(stage.get("allowed_next") or ()) - set(keys)
        if unknown:
            raise ValueError(f"{where}: stage {stage['key']!r} allows unknown stages {sorted(unknown)}")


def sync_pipelines(session, definitions):
    """Write declared pipelines and stages that are missing; keep what is already stored.

    Returns ``True`` when anything was added.
    """
    changed = False
    existing = {p.key: p for p in session.execute(select(Pipeline)).scalars()}
    for origin, definition in definitions:
        pipeline = existing.get(definition["key"])
        if pipeline is None:
            pipeline = Pipeline(
                key=definition["key"], record_type=definition["record_type"], label=definition["label"],
                is_default=bool(definition.get("default")), origin=origin,
            )
            session.add(pipeline)
            session.flush()
            existing[pipeline.key] = pipeline
            changed = True
        stored = set(session.execute(
            select(PipelineStage.key).where(PipelineStage.pipeline_id == pipeline.id)
        ).scalars())
        for position, stage in enumerate(definition["stages"]):
            if stage["key"] in stored:
                continue
            session.add(PipelineStage(
                pipeline_id=pipeline.id, key=stage["key"], label=stage.get("label", stage["key"]),
                position=stage.get("position", position), probability=stage.get("probability", 0),
                outcome=stage.get("outcome", "open"), allowed_next=stage.get("allowed_next"),
                reasons=stage.get("reasons"), origin=origin,
            ))
            changed = True
    return changed


SALES_PIPELINE = {
    "key": "sales",
    "record_type": "deal",
    "label": "Sales",
    "default": True,
    "stages": [
        {"key": "lead", "label": "Lead", "probability": 10,
         "allowed_next": ["qualified", "lost"]},
        {"key": "qualified", "label": "Qualified", "probability": 25,
         "allowed_next": ["lead", "proposal", "lost"]},
        {"key": "proposal", "label": "Proposal", "probability": 50,
         "allowed_next": ["qualified", "negotiation", "won", "lost"]},
        {"key": "negotiation", "label": "Negotiation", "probability": 75,
         "allowed_next": ["proposal", "won", "lost"]},
        {"key": "won", "label": "Won", "probability": 100, "outcome": "won",
         "allowed_next": ["negotiation"],
         "reasons": ["price", "product_fit", "relationship", "timing", "other"]},
        {"key": "lost", "label": "Lost", "probability": 0, "outcome": "lost",
         "allowed_next": ["lead", "qualified"],
         "reasons": ["price", "competitor", "no_budget", "no_decision", "timing", "other"]},
    ],
}
