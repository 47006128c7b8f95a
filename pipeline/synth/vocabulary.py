"""The synthetic world's vocabularies and the numbers of its generative model, in one place.

Category names (products, seniorities, departments, industries, countries, lead sources, pages,
campaigns, assets, webinars, forms, events, calls), their mixes (and the drift quarter's), the
rates of the engagement processes and the weights of the true conversion function live here, so
that tuning the world means editing one module and every generator reads the same codes. The
activity types are the data contract's, defined once in :data:`features.activity.ACTIVITY_TYPES`
and imported here (``features`` is the lower layer). Underscored names are private to the
package: the code tables that several generators share.
"""

from __future__ import annotations

from features.activity import ACTIVITY_TYPES

AS_OF_DAYS = 14
RECENCY_HALF_LIFE_DAYS = 7.0
DRIFT_MONTHS = 3
#: Days after creation during which organic (non-deal) activity happens.
HORIZON_DAYS = 180.0
N_COMPANIES = 30_000
#: Overall signal strength: oracle ROC-AUC on the outcome of about 0.88.
SIGNAL = 2.0

_DAY_S = 86_400
_AS_OF_S = AS_OF_DAYS * _DAY_S
_NS = 1_000_000_000

# --- vocabularies ----------------------------------------------------------------------------
# Activity type -> code (int8 in the event arrays).
_T = {name: i for i, name in enumerate(ACTIVITY_TYPES)}
PAGES = ("home", "blog", "pricing", "demo", "case_study", "careers", "product", "docs")
PRODUCTS = ("platform", "academy", "services")
PRODUCT_P = (0.55, 0.35, 0.10)
PRODUCT_P_DRIFT = (0.44, 0.48, 0.08)
SENIORITIES = ("c-level", "vp", "director", "manager", "individual", "student")
# Seniority mix by product line; the drift quarter moves 7 points of it to students.
SENIORITY_P = {
    "platform": (0.06, 0.09, 0.15, 0.27, 0.35, 0.08),
    "academy": (0.02, 0.04, 0.09, 0.24, 0.45, 0.16),
    "services": (0.07, 0.10, 0.16, 0.27, 0.34, 0.06),
}
DEPARTMENTS = ("sales", "marketing", "engineering", "it", "operations", "finance", "hr", "product")
DEPARTMENT_P = {
    "platform": (0.24, 0.26, 0.08, 0.10, 0.12, 0.06, 0.04, 0.10),
    "academy": (0.26, 0.16, 0.08, 0.06, 0.12, 0.06, 0.18, 0.08),
    "services": (0.14, 0.14, 0.14, 0.20, 0.16, 0.08, 0.04, 0.10),
}
INDUSTRIES = (
    "software",
    "finance",
    "healthcare",
    "manufacturing",
    "retail",
    "education",
    "government",
    "consulting",
    "telecom",
    "energy",
)
INDUSTRY_P = (0.20, 0.12, 0.10, 0.12, 0.09, 0.08, 0.05, 0.11, 0.07, 0.06)
# log(employees) mean and sd, log(revenue per employee in USD) mean.
INDUSTRY_SIZE = {
    "software": (3.9, 1.5, 12.2),
    "finance": (5.0, 1.7, 12.9),
    "healthcare": (4.9, 1.6, 11.9),
    "manufacturing": (5.1, 1.5, 12.3),
    "retail": (4.4, 1.8, 11.8),
    "education": (5.2, 1.2, 11.3),
    "government": (5.7, 1.4, 11.6),
    "consulting": (3.4, 1.5, 12.0),
    "telecom": (5.4, 1.7, 12.6),
    "energy": (5.2, 1.7, 13.1),
}
COUNTRIES = ("US", "UK", "DE", "FR", "IN", "CA", "AU", "NL", "BR", "SG")
COUNTRY_P = (0.42, 0.12, 0.08, 0.05, 0.10, 0.06, 0.05, 0.04, 0.05, 0.03)
SOURCES = (
    "organic_search",
    "paid_search",
    "paid_social",
    "referral",
    "partner",
    "webinar",
    "trade_show",
    "content_syndication",
    "direct",
)
SOURCE_P = (0.22, 0.16, 0.08, 0.08, 0.06, 0.10, 0.06, 0.10, 0.14)
SOURCE_P_DRIFT = (0.16, 0.12, 0.21, 0.06, 0.05, 0.08, 0.04, 0.19, 0.09)
FREE_MAIL = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "aol.com",
    "icloud.com",
    "proton.me",
    "gmx.de",
)
FREE_MAIL_P = (0.52, 0.12, 0.10, 0.12, 0.03, 0.05, 0.02, 0.04)
COMPETITOR_DOMAINS = ("rivalscore.com", "leadlyhq.com")


# Detail values: campaigns, assets, webinars, forms, events and call types, by product line.
CAMPAIGNS = {
    "platform": (
        "platform_nurture",
        "roi_calculator",
        "customer_story",
        "product_update",
        "event_invite",
    ),
    "academy": ("course_catalog", "webinar_invite", "certification_promo", "newsletter"),
    "services": ("implementation_guide", "customer_story", "newsletter"),
}
ASSETS = {
    "platform": (
        "ebook_predictive_lead_scoring",
        "whitepaper_roi",
        "analyst_report_2026",
        "datasheet_platform",
        "checklist_crm_hygiene",
    ),
    "academy": (
        "guide_sales_skills",
        "course_syllabus",
        "ebook_career_growth",
        "template_cold_email",
        "checklist_onboarding",
    ),
    "services": ("case_study_implementation", "whitepaper_roi", "guide_data_migration"),
}
WEBINARS = {
    "platform": ("webinar_scoring_live_demo", "webinar_revops_panel"),
    "academy": ("webinar_sales_bootcamp", "webinar_certification_info", "webinar_negotiation_101"),
    "services": ("webinar_implementation_qa", "webinar_revops_panel"),
}
FORMS = ("contact_us", "newsletter_signup", "free_trial", "pricing_quote", "event_signup")
EVENTS = ("trade_show_booth", "roadshow", "user_conference", "meetup")
CALLS = ("discovery_call", "qualification_call", "follow_up", "proposal_review", "negotiation")
_DETAILS = tuple(
    dict.fromkeys(
        [
            *PAGES,
            "welcome",
            *[c for v in CAMPAIGNS.values() for c in v],
            *[a for v in ASSETS.values() for a in v],
            *[w for v in WEBINARS.values() for w in v],
            *FORMS,
            *EVENTS,
            *CALLS,
            "demo_form",
            "chat_request",
        ]
    )
)
_D = {name: i for i, name in enumerate(_DETAILS)}

# --- rates of the engagement processes ---------------------------------------------------------
# type: expected events in the first 14 days for z = 0, slope on intent z, log effect by product
# line (platform, academy, services), decay time constant in days.
RATES = {
    "web_visit": (2.2, 0.5, (0.15, -0.1, 0.0), 25.0),
    "content_download": (0.35, 0.5, (-0.4, 0.5, 0.0), 25.0),
    "webinar_registered": (0.22, 0.5, (-0.5, 0.6, 0.0), 30.0),
    "form_submit": (0.15, 0.6, (0.0, 0.1, 0.1), 20.0),
    "demo_request": (0.05, 0.9, (0.5, -1.0, 0.2), 20.0),
    "offline_event": (0.04, 0.3, (0.2, -0.3, 0.1), 60.0),
    "sales_call": (0.06, 0.6, (0.4, -0.6, 0.3), 20.0),
}
EMAIL_NURTURE_14D = 1.8
EMAIL_TAU = 45.0
WELCOME_P = 0.7

# --- the true conversion function --------------------------------------------------------------
# Fit weights per product line (platform, academy, services); "unknown" = not readable from title.
FIT_WEIGHTS = {
    "seniority": {
        "c-level": (1.0, 0.0, 0.8),
        "vp": (0.9, 0.1, 0.7),
        "director": (0.6, 0.2, 0.5),
        "manager": (0.2, 0.3, 0.2),
        "individual": (-0.3, 0.2, -0.2),
        "student": (-1.6, -0.3, -1.4),
        "unknown": (-0.3, 0.0, -0.2),
    },
    "department": {
        "sales": (0.35, 0.3, 0.1),
        "marketing": (0.4, 0.25, 0.1),
        "engineering": (-0.1, 0.0, 0.2),
        "it": (0.1, -0.1, 0.3),
        "operations": (0.0, 0.0, 0.2),
        "finance": (-0.15, -0.2, 0.0),
        "hr": (-0.3, 0.35, -0.1),
        "product": (0.1, 0.1, 0.0),
        "unknown": (0.0, 0.0, 0.0),
    },
    # per decade of employees above 200
    "log10_employees": (0.45, 0.05, 0.3),
    "industry": {
        "software": 0.35,
        "finance": 0.25,
        "healthcare": 0.1,
        "manufacturing": 0.0,
        "retail": -0.1,
        "education": -0.2,
        "government": -0.3,
        "consulting": 0.1,
        "telecom": 0.15,
        "energy": 0.0,
    },
    "industry_scale": (1.0, 0.4, 0.8),
    "source": {
        "organic_search": 0.05,
        "paid_search": 0.0,
        "paid_social": -0.35,
        "referral": 0.5,
        "partner": 0.35,
        "webinar": 0.15,
        "trade_show": 0.25,
        "content_syndication": -0.3,
        "direct": 0.1,
    },
    "country": {
        "US": 0.1,
        "UK": 0.05,
        "DE": 0.05,
        "FR": 0.0,
        "IN": -0.2,
        "CA": 0.05,
        "AU": 0.05,
        "NL": 0.05,
        "BR": -0.15,
        "SG": 0.0,
    },
    "free_mail": (-0.5, -0.1, -0.4),
    "competitor": (-3.0, -3.0, -3.0),
}
# Weights on log1p(recency-weighted count), per product line (platform, academy, services).
ENGAGEMENT_WEIGHTS = {
    "pricing": (0.55, 0.2, 0.4),
    "demo_page": (0.6, 0.1, 0.35),
    "case_study": (0.25, 0.1, 0.3),
    "product_page": (0.15, 0.05, 0.1),
    "docs": (0.0, 0.2, 0.1),
    "demo_request": (1.1, 0.2, 0.6),
    "sales_call": (0.8, 0.2, 0.6),
    "offline_event": (0.4, 0.1, 0.3),
    "form_submit": (0.1, 0.4, 0.2),
    "webinar_attended": (0.1, 1.0, 0.4),
    "content_download": (0.05, 0.7, 0.3),
    "email_click": (0.2, 0.6, 0.3),
}
NEGATIVE_WEIGHTS = {"email_bounce": -0.8, "email_unsubscribe": -1.4, "careers": -0.7}
