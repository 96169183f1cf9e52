"""Company values from enrichment providers, made fit for HubSpot company properties.

Pure functions, no database (like every normalizer here). Facts and sources: docs/enrichment.md
("Normalization"). Each raises ValueRejected with a reason that holds no personal data.
"""

from __future__ import annotations

import re
from typing import Any

from quality.errors import ValueRejected

MAX_EMPLOYEES = 1_000_000

# HubSpot's `industry` option values (148, the old LinkedIn taxonomy). Third-party lists agree
# value for value; a portal may add options, so the pipeline checks the portal's own list too.
HUBSPOT_INDUSTRIES = frozenset(
    """ACCOUNTING AIRLINES_AVIATION ALTERNATIVE_DISPUTE_RESOLUTION ALTERNATIVE_MEDICINE ANIMATION
APPAREL_FASHION ARCHITECTURE_PLANNING ARTS_AND_CRAFTS AUTOMOTIVE AVIATION_AEROSPACE BANKING
BIOTECHNOLOGY BROADCAST_MEDIA BUILDING_MATERIALS BUSINESS_SUPPLIES_AND_EQUIPMENT CAPITAL_MARKETS
CHEMICALS CIVIC_SOCIAL_ORGANIZATION CIVIL_ENGINEERING COMMERCIAL_REAL_ESTATE
COMPUTER_NETWORK_SECURITY COMPUTER_GAMES COMPUTER_HARDWARE COMPUTER_NETWORKING COMPUTER_SOFTWARE
INTERNET CONSTRUCTION CONSUMER_ELECTRONICS CONSUMER_GOODS CONSUMER_SERVICES COSMETICS DAIRY
DEFENSE_SPACE DESIGN EDUCATION_MANAGEMENT E_LEARNING ELECTRICAL_ELECTRONIC_MANUFACTURING
ENTERTAINMENT ENVIRONMENTAL_SERVICES EVENTS_SERVICES EXECUTIVE_OFFICE FACILITIES_SERVICES FARMING
FINANCIAL_SERVICES FINE_ART FISHERY FOOD_BEVERAGES FOOD_PRODUCTION FUND_RAISING FURNITURE
GAMBLING_CASINOS GLASS_CERAMICS_CONCRETE GOVERNMENT_ADMINISTRATION GOVERNMENT_RELATIONS
GRAPHIC_DESIGN HEALTH_WELLNESS_AND_FITNESS HIGHER_EDUCATION HOSPITAL_HEALTH_CARE HOSPITALITY
HUMAN_RESOURCES IMPORT_AND_EXPORT INDIVIDUAL_FAMILY_SERVICES INDUSTRIAL_AUTOMATION
INFORMATION_SERVICES INFORMATION_TECHNOLOGY_AND_SERVICES INSURANCE INTERNATIONAL_AFFAIRS
INTERNATIONAL_TRADE_AND_DEVELOPMENT INVESTMENT_BANKING INVESTMENT_MANAGEMENT JUDICIARY
LAW_ENFORCEMENT LAW_PRACTICE LEGAL_SERVICES LEGISLATIVE_OFFICE LEISURE_TRAVEL_TOURISM LIBRARIES
LOGISTICS_AND_SUPPLY_CHAIN LUXURY_GOODS_JEWELRY MACHINERY MANAGEMENT_CONSULTING MARITIME
MARKET_RESEARCH MARKETING_AND_ADVERTISING MECHANICAL_OR_INDUSTRIAL_ENGINEERING MEDIA_PRODUCTION
MEDICAL_DEVICES MEDICAL_PRACTICE MENTAL_HEALTH_CARE MILITARY MINING_METALS
MOTION_PICTURES_AND_FILM MUSEUMS_AND_INSTITUTIONS MUSIC NANOTECHNOLOGY NEWSPAPERS
NON_PROFIT_ORGANIZATION_MANAGEMENT OIL_ENERGY ONLINE_MEDIA OUTSOURCING_OFFSHORING
PACKAGE_FREIGHT_DELIVERY PACKAGING_AND_CONTAINERS PAPER_FOREST_PRODUCTS PERFORMING_ARTS
PHARMACEUTICALS PHILANTHROPY PHOTOGRAPHY PLASTICS POLITICAL_ORGANIZATION
PRIMARY_SECONDARY_EDUCATION PRINTING PROFESSIONAL_TRAINING_COACHING PROGRAM_DEVELOPMENT
PUBLIC_POLICY PUBLIC_RELATIONS_AND_COMMUNICATIONS PUBLIC_SAFETY PUBLISHING RAILROAD_MANUFACTURE
RANCHING REAL_ESTATE RECREATIONAL_FACILITIES_AND_SERVICES RELIGIOUS_INSTITUTIONS
RENEWABLES_ENVIRONMENT RESEARCH RESTAURANTS RETAIL SECURITY_AND_INVESTIGATIONS SEMICONDUCTORS
SHIPBUILDING SPORTING_GOODS SPORTS STAFFING_AND_RECRUITING SUPERMARKETS TELECOMMUNICATIONS
TEXTILES THINK_TANKS TOBACCO TRANSLATION_AND_LOCALIZATION TRANSPORTATION_TRUCKING_RAILROAD
UTILITIES VENTURE_CAPITAL_PRIVATE_EQUITY VETERINARY WAREHOUSING WHOLESALE WINE_AND_SPIRITS
WIRELESS WRITING_AND_EDITING MOBILE_GAMES""".split()
)

# Provider labels → HubSpot values. An explicit table: slugging a label gives wrong values
# (HubSpot writes ARTS_AND_CRAFTS, RENEWABLES_ENVIRONMENT...). Apollo sends lower-case
# LinkedIn labels; Clearbit sends its own category names.
INDUSTRY_LABELS: dict[str, str] = {
    "information technology & services": "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "information technology and services": "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "computer software": "COMPUTER_SOFTWARE",
    "software": "COMPUTER_SOFTWARE",
    "internet software & services": "COMPUTER_SOFTWARE",
    "internet": "INTERNET",
    "financial services": "FINANCIAL_SERVICES",
    "banks": "BANKING",
    "banking": "BANKING",
    "marketing & advertising": "MARKETING_AND_ADVERTISING",
    "marketing and advertising": "MARKETING_AND_ADVERTISING",
    "hospital & health care": "HOSPITAL_HEALTH_CARE",
    "retail": "RETAIL",
    "management consulting": "MANAGEMENT_CONSULTING",
    "media": "ONLINE_MEDIA",
    "online media": "ONLINE_MEDIA",
    "health, wellness & fitness": "HEALTH_WELLNESS_AND_FITNESS",
    "arts & crafts": "ARTS_AND_CRAFTS",
    "renewables & environment": "RENEWABLES_ENVIRONMENT",
    "venture capital & private equity": "VENTURE_CAPITAL_PRIVATE_EQUITY",
    "staffing & recruiting": "STAFFING_AND_RECRUITING",
    "telecommunications": "TELECOMMUNICATIONS",
    "insurance": "INSURANCE",
    "higher education": "HIGHER_EDUCATION",
    "real estate": "REAL_ESTATE",
    "logistics & supply chain": "LOGISTICS_AND_SUPPLY_CHAIN",
}


def employee_count(value: Any) -> int:
    """An integer between 1 and 1,000,000 ("1,200" → 1200; 0, -3 or 5e9 are refused)."""
    if isinstance(value, bool) or value in (None, ""):
        raise ValueRejected("not an employee count: it is empty")
    try:
        number = float(str(value).replace(",", "").replace("_", "").strip())
    except ValueError:
        raise ValueRejected("not an employee count: not a number") from None
    if number != int(number) or not 1 <= number <= MAX_EMPLOYEES:
        raise ValueRejected(f"employee count must be a whole number from 1 to {MAX_EMPLOYEES:,}")
    return int(number)


_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "t": 1e12}
_MONEY = re.compile(r"^\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(k|m|b|bn|t)?$", re.I)


def revenue(value: Any) -> int:
    """Annual revenue as a whole number: 12500000.0, "12.5M", "$12,500,000" → 12500000."""
    if isinstance(value, bool) or value in (None, ""):
        raise ValueRejected("not a revenue: it is empty")
    if isinstance(value, int | float):
        number = float(value)
    else:
        match = _MONEY.match(str(value).strip())
        if not match:
            raise ValueRejected("not a revenue: expected a number such as 12500000 or 12.5M")
        number = float(match.group(1).replace(",", "")) * _SCALE.get(
            (match.group(2) or "").lower(), 1
        )
    if number < 0:
        raise ValueRejected("revenue cannot be negative")
    return round(number)


def hubspot_industry(value: Any, *, options: frozenset[str] | set[str] | None = None) -> str:
    """A HubSpot ``industry`` option value from a provider's label, or refused: an unknown
    label never reaches ``industry`` (HubSpot rejects values outside the option list)."""
    text = str(value or "").strip()
    if not text:
        raise ValueRejected("not an industry: it is empty")
    allowed = options or HUBSPOT_INDUSTRIES
    if text in allowed:
        return text
    mapped = INDUSTRY_LABELS.get(text.lower())
    if mapped is None or mapped not in allowed:
        raise ValueRejected(f"industry {text[:60]!r} has no HubSpot industry option", code="enum")
    return mapped


def technologies(value: Any) -> str:
    """A list of technology names as one "; "-separated text, sorted, duplicates removed."""
    items = value if isinstance(value, list | tuple | set) else str(value or "").split(";")
    names = sorted({str(i).strip() for i in items if str(i).strip()}, key=str.lower)
    if not names:
        raise ValueRejected("no technologies")
    return "; ".join(names)
