"""A synthetic B2B CRM world: leads, their timestamped activities, outcomes and the true odds.

It is LeadScore's demo and test data, built so that every part of the product has something real
to find: fit and engagement signal, negative signals, a leakage trap, drift and product lines that
buy for different reasons. Every number of the model is a module constant,
most of them in :mod:`pipeline.synth.vocabulary`.

Generative model
----------------
**Leads.** ``created_at`` is spread over the ``months`` months before ``end`` (inclusive of the
end day, whole seconds) with monthly seasonality (Jan-Mar and Sep-Oct peaks, July-August and
December dips), fewer leads at weekends, business-hour peaks and mild growth (+35 % over the
period). Lead ids grow with ``created_at`` across the whole world, as CRM ids do.

**Companies.** A pool of :data:`N_COMPANIES` companies per seed, each with an industry (10
levels), a lognormal, industry-dependent head count, a revenue of head count x a lognormal,
industry-dependent revenue per employee (6 % unknown), a skewed HQ country (10 levels), a name
and a web domain. Leads come from companies in proportion to ``employees ** 0.35``, so large
companies send many leads. Students mostly give a school or university.

**Contacts.** A latent seniority (c-level, vp, director, manager, individual, student) and
department (sales, marketing, engineering, it, operations, finance, hr, product), both depending
on the product line; the ``job_title`` is rendered from ~700 spellings (``"VP Sales"``, ``"Vice
President, Operations"``, ``"Chief Technology Officer"``, ``"Dir. of IT"``, ``"mktg mgr"``,
``"line supervisor"``, ``"MBA candidate"``...), 8 % lower-cased, 3 % upper-cased, 4 % blank or a
placeholder. The email is ``local@domain`` with a corporate domain (the company's), a free-mail
domain (more likely for students, individuals and tiny companies) or a competitor's domain
(:data:`COMPETITOR_DOMAINS`, 0.8 %, and then the company is that competitor). Names and phone
numbers are fake PII. ``lead_source`` has 9 levels; ``product_line`` is ``platform``
(enterprise software), ``academy`` (training) or ``services`` (implementation, 10 %).

**Engagement.** Each lead has a latent intent ``z ~ N(0, 1) + 0.3 tanh(fit)``. Activity types
are independent Poisson processes from ``created_at`` whose intensity is
``rate * exp(slope * z + line effect) * seniority effect * exp(-t / tau)``: the expected counts
in the first 14 days are the :data:`RATES` row, and activity decays over weeks. Inbound leads are
created by a form (or a download, a trade-show badge scan, a webinar registration) at ``t ~ 0``.
Mail is sent to everyone: a welcome mail for 70 %, then a nurture cadence (1.8 in the first two
weeks, decaying with ``tau`` 45 days). Each delivered mail is opened with probability
``sigmoid(-0.8 + 0.7 z)`` (hours later), each open clicked with ``sigmoid(-1.3 + 0.8 z)``
(+0.4 logit for academy). Invalid addresses (2 % corporate, 8 % free-mail) bounce and then get no
more mail; valid ones soft-bounce 1.5-3 % of the time. Low-intent leads unsubscribe (then no more
mail). Webinar registrants attend with about ``sigmoid(0.9 z)`` 1-10 days later. Web pages are drawn
per visit: pricing and demo pages with intent (more for platform), blog and docs for students,
careers for job seekers (4 %, 30 % of students). Organic activity stops 180 days after creation
(or at a won deal's close) and at ``end``. About 20 events per lead over its life.

**True conversion probability** (``truth.parquet``, the oracle) is a function of what is
observable before the lead's as_of = ``created_at + 14 days`` (events strictly before it, whole
seconds, exactly what a point-in-time feature sees), never of the latent intent::

    logit(p) = b0 + SIGNAL * (0.8 fit + 0.9 eng + 1.4 hot + neg)

* ``fit``: seniority (read from the title, ``unknown`` when blank), department when the title
  shows it, ``log10(employees)``, industry, lead source, country, free mail, competitor, each
  with per-product-line weights (:data:`FIT_WEIGHTS`): platform buyers respond to seniority and
  company size, academy buyers hardly, students are less negative for academy;
* ``eng``: recency-weighted counts of the first 14 days (each event weighs
  ``0.5 ** ((14 - age_days) / 7)``), through ``log1p``, with per-line weights
  (:data:`ENGAGEMENT_WEIGHTS`): platform on pricing and demo pages, demo requests and sales
  calls; academy on webinars attended, downloads and email clicks;
* ``hot = sigmoid(2.5 (fit - 0.6)) * sigmoid(2.5 (eng - 0.9))``: fit and engagement interact, a
  VP who barely engaged and an engaged supervisor are both lukewarm, both high is hot;
* ``neg``: -0.8 for a bounce, -1.4 for an unsubscribe, -0.7 log1p(careers visits);
* ``b0`` is solved by bisection on a fixed-seed sample of :data:`PROBE_LEADS` leads so that the
  mean probability is ``base_rate``; it depends on (base_rate, end, months), not on the seed.

For leads created less than 14 days before ``end``, ``p`` also counts first-fortnight events
after ``end`` that the snapshot cannot show (their as_of has not come; they are all open).

**Odds age** (opt-in: ``make_world(..., odds_age_days=60)``). The lead's as_of moves from day 14
to that age: the true odds read the events before it with weights ``0.5 ** ((age - day) / h)``,
won deals close and the deal activity starts after it, the intercept is solved at it and
``truth.parquet`` records it. The rates stay counts of the first 14 days, so an older as_of sees
more events, spread over more ages: a world where long half-lives can be told apart.

**Outcomes.** ``won ~ Bernoulli(p)``; won deals close 7-150 days after as_of (beta-shaped; academy
faster than platform). Lost leads are decided 3-200 days after creation, 4 % before as_of
(disqualified at once); 15 % of the others never decide (``open``). An outcome after ``end``
becomes ``open`` with ``outcome_at`` NaT, so the realised won share is a little below
``base_rate``. After as_of, won leads get deal activity (demo requests, one or more sales calls,
pricing visits) until the close, lost leads a few qualification calls: a deliberate **leakage
trap** for features that look past as_of. Nothing before as_of depends on the outcome.

**Lifecycle stages** (opt-in: ``make_world(..., stages=True)``, ``leadscore synth --stages`` or
``synth.stages: true``). The leads gain ``mql_date``, ``sql_date`` and ``opportunity_date``
(won is the close date of won leads), drawn by :mod:`pipeline.synth.lifecycle` from their own
stream ``default_rng([seed, chunk, 3])`` after everything else, so every other column keeps its
bytes. Won deals pass through every stage before their close: each stage falls a Beta-shaped
share of the time left between the previous stage (creation for MQL) and the close, MQL early.
The other leads take each step with probability ``sigmoid(a + b (logit p - logit 0.08))``,
(a, b) = (-0.3, 0.5) to MQL, (-0.2, 0.4) MQL to SQL, (0.4, 0.4) SQL to opportunity, so better
leads are more often qualified even when they do not buy, each step an exponential wait after
the previous one (means 10, 12 and 20 days). A lost lead stops at the stage it had reached when
it was lost (no stage after its ``outcome_at``) and nothing is dated after ``end``; the dates are
ordered and a stage is only reached after every earlier one. On the default world about a third
of the leads become MQLs, about half of the MQLs reach SQL, and about 60 % of the
opportunities are won (the won deals are most of them).

**Accounts.** An account is a company of the pool (the ``company`` column; its web domain is
the corporate email domain). Each lead's outcome is drawn on its own given its true ``p``, so
the leads of one company convert independently *given their true probabilities* (they are
correlated through the company's shared fit, which ``p`` already holds). An account's outcome
over a set of its leads is therefore "any of them won", and its true chance is exactly
``1 - prod(1 - p_i)``: the independence the account roll-up assumes holds in this world for the
true odds, while a model's errors on the leads of one company stay correlated. There is no
account-level draw on top of the leads'. The default pool of :data:`N_COMPANIES` companies
sends 20,000 leads from about 12,700 companies (1.6 each); ``make_world(companies=1000)`` (config
``synth.companies``) concentrates them into buying committees of several leads each.

**Drift.** Leads of the last :data:`DRIFT_MONTHS` months come from a shifted mix: more paid
social and content syndication, more students and free mail, more academy. ``p`` is the same
function of the observables, so a calibrated model stays calibrated while PSI monitoring sees
the shift (and the positive rate of the quarter falls).

Generation is vectorised with numpy per chunk of :data:`CHUNK` leads, each chunk with its own
RNG ``default_rng([seed, chunk])`` (and the company pool with ``default_rng([seed, 0, 1])``):
the output depends only on (n_leads, seed, base_rate, end, months), never on the machine, and
any size streams to Parquet in bounded memory.

Modules
-------
``vocabulary`` (category names, mixes, rates and weights), ``sampling`` (shared vectorised draws),
``titles`` (job-title text), ``companies`` (the company pool), ``people`` (fake PII),
``leads`` (the leads of a chunk), ``activities`` (the event processes), ``outcomes`` (true odds
and labels), ``lifecycle`` (the opt-in stage dates) and ``world`` (chunking, the intercept
probe, schemas, :func:`make_world` and :func:`write_world`). The activity types are
:data:`features.activity.ACTIVITY_TYPES`.
"""

from pipeline.synth.vocabulary import (
    COMPETITOR_DOMAINS,
    DRIFT_MONTHS,
    ENGAGEMENT_WEIGHTS,
    FIT_WEIGHTS,
    N_COMPANIES,
    RATES,
)
from pipeline.synth.world import (
    ACTIVITIES_SCHEMA,
    ACTIVITY_TYPES,
    AS_OF_DAYS,
    CHUNK,
    LEADS_SCHEMA,
    PROBE_LEADS,
    TRUTH_SCHEMA,
    World,
    make_world,
    write_world,
)

__all__ = [
    "ACTIVITIES_SCHEMA",
    "ACTIVITY_TYPES",
    "AS_OF_DAYS",
    "CHUNK",
    "COMPETITOR_DOMAINS",
    "DRIFT_MONTHS",
    "ENGAGEMENT_WEIGHTS",
    "FIT_WEIGHTS",
    "LEADS_SCHEMA",
    "N_COMPANIES",
    "PROBE_LEADS",
    "RATES",
    "TRUTH_SCHEMA",
    "World",
    "make_world",
    "write_world",
]
