"""The ``actions:`` section: what a rep can get a lead to do next, as the event it would log.

Each action is one activity event (``activity_type`` and ``detail``, what the CRM would record
if the lead did it) with a label a rep reads ("Book a demo"), preceded by the events the log
always holds before it (``requires``: a webinar attended follows its registration; appending the
attendance alone would show the model a lead it never saw in training, attended but never
registered, and the what-if would read that oddity rather than the attendance).
``leadscore whatif`` and ``score --next-action`` append those events at the lead's as_of and
rescore through the model (:mod:`pipeline.explain.whatif`). ``offer`` names the actions
ranked; the built-in catalogue (:data:`BUILTIN_ACTIONS`) can be extended or overridden under
``define``. A flat export has no
activity log, so there the section is not read and what-if is refused.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from pipeline.data.dataset_schema import _Frozen


class ActionSpec(_Frozen):
    """One action: the human label and the event it appends (``detail``: e.g. the page of a
    ``web_visit``; null when the type needs none)."""

    label: str = Field(description="what a rep reads, e.g. 'Book a demo'")
    activity_type: str = Field(description="the canonical activity type of the appended event")
    detail: str | None = Field(None, description="the event's detail (a web visit's page)")
    requires: list[str] = Field(
        [], description="activity types the log always holds just before this event, appended "
        "with it (a webinar attended follows its registration)")

    @field_validator("label", "activity_type")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


#: The actions LeadScore knows without configuration: each the event the lead's doing it logs.
BUILTIN_ACTIONS: dict[str, ActionSpec] = {
    "demo_request": ActionSpec(label="Book a demo", activity_type="demo_request",
                               detail="demo_form"),
    "pricing_page": ActionSpec(label="Visit the pricing page", activity_type="web_visit",
                               detail="pricing"),
    # attending without registering never happens in a log: the registration comes with it
    "webinar": ActionSpec(label="Attend a webinar", activity_type="webinar_attended",
                          requires=["webinar_registered"]),
    "sales_call": ActionSpec(label="Take a sales call", activity_type="sales_call",
                             detail="discovery_call"),
    "content_download": ActionSpec(label="Download content", activity_type="content_download"),
}


class ActionsConfig(_Frozen):
    """Next best action: ``offer`` the actions ranked (built-in: demo_request, pricing_page,
    webinar, sales_call, content_download); ``define`` adds or replaces
    actions as name -> {label, activity_type, detail}. Every activity type must be one the
    feature builder knows (the contract's vocabulary or ``dataset.activity_types``)."""

    offer: list[str] = Field(
        default_factory=lambda: list(BUILTIN_ACTIONS),
        description="actions `whatif` and `score --next-action` rank, in this order on ties")
    define: dict[str, ActionSpec] = Field(
        {}, description="extra actions, or built-in ones redefined: name -> label, "
        "activity_type, detail")

    @field_validator("offer")
    @classmethod
    def _offer_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"lists an action twice: {value}")
        return value

    def catalogue(self) -> dict[str, ActionSpec]:
        """The offered actions, name -> spec, in ``offer`` order (unknown names refused)."""
        known = {**BUILTIN_ACTIONS, **self.define}
        missing = [name for name in self.offer if name not in known]
        if missing:
            raise ValueError(f"actions.offer: unknown action {missing[0]!r} (known: "
                             f"{', '.join(sorted(known))}; add it under actions.define)")
        return {name: known[name] for name in self.offer}

    def offered(self, logged: set[str]) -> tuple[dict[str, ActionSpec], list[str]]:
        """The catalogue less the built-in actions whose events are not among ``logged`` (the
        dataset's activity types), and the names left out: the default offer names events a
        HubSpot or Marketo log may never hold, and ranking an action the model never saw in
        training would be noise. ``whatif`` prints what it left out."""
        catalogue = self.catalogue()
        left_out = [name for name, spec in catalogue.items() if name not in self.define
                    and not {spec.activity_type, *spec.requires} <= logged]
        return {n: s for n, s in catalogue.items() if n not in left_out}, left_out

    def check_defined(self, logged: set[str]) -> None:
        """Refuse an action of ``define`` whose events this dataset does not log."""
        self.catalogue()  # unknown names in offer
        for name, spec in self.define.items():
            for event in (spec.activity_type, *spec.requires):
                if event not in logged:
                    raise ValueError(f"actions.define.{name}: activity type {event!r} is not "
                                     f"one this dataset logs (known: {', '.join(sorted(logged))})")
