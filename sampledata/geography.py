"""US geography tables: states with their population weights, ZIP ranges and area codes.

Generated people must look like real US mail: state shares follow the 2020 census, ZIPs lie
inside the state's real range (so New England ZIPs start with 0 and lose it in Excel), and
phone numbers use area codes that are assigned in that state, so phone validators that check
the area code accept them. ZIP ranges come from Faker's en_US provider; the rest is here.
"""

from __future__ import annotations

from faker.providers.address.en_US import Provider as FakerAddress

# 2020 census resident population, millions (50 states and DC).
STATE_POPULATION: dict[str, float] = {
    "AL": 5.02, "AK": 0.73, "AZ": 7.15, "AR": 3.01, "CA": 39.5, "CO": 5.77, "CT": 3.61,
    "DE": 0.99, "DC": 0.69, "FL": 21.5, "GA": 10.7, "HI": 1.46, "ID": 1.84, "IL": 12.8,
    "IN": 6.79, "IA": 3.19, "KS": 2.94, "KY": 4.51, "LA": 4.66, "ME": 1.36, "MD": 6.18,
    "MA": 7.03, "MI": 10.1, "MN": 5.71, "MS": 2.96, "MO": 6.15, "MT": 1.08, "NE": 1.96,
    "NV": 3.10, "NH": 1.38, "NJ": 9.29, "NM": 2.12, "NY": 20.2, "NC": 10.4, "ND": 0.78,
    "OH": 11.8, "OK": 3.96, "OR": 4.24, "PA": 13.0, "RI": 1.10, "SC": 5.12, "SD": 0.89,
    "TN": 6.91, "TX": 29.1, "UT": 3.27, "VT": 0.64, "VA": 8.63, "WA": 7.71, "WV": 1.79,
    "WI": 5.89, "WY": 0.58,
}

# Area codes in service in each state (a representative subset for the large ones).
AREA_CODES: dict[str, tuple[int, ...]] = {
    "AL": (205, 251, 256, 334, 938), "AK": (907,), "AZ": (480, 520, 602, 623, 928),
    "AR": (479, 501, 870),
    "CA": (209, 213, 310, 323, 408, 415, 510, 530, 559, 562, 619, 626, 650, 661, 707, 714,
           760, 805, 818, 831, 858, 909, 916, 925, 949, 951),
    "CO": (303, 719, 720, 970), "CT": (203, 475, 860, 959), "DE": (302,), "DC": (202,),
    "FL": (239, 305, 321, 352, 386, 407, 561, 727, 754, 772, 786, 813, 850, 863, 904, 941,
           954),
    "GA": (229, 404, 470, 478, 678, 706, 762, 770, 912), "HI": (808,), "ID": (208, 986),
    "IL": (217, 224, 309, 312, 331, 618, 630, 708, 773, 779, 815, 847, 872),
    "IN": (219, 260, 317, 463, 574, 765, 812, 930), "IA": (319, 515, 563, 641, 712),
    "KS": (316, 620, 785, 913), "KY": (270, 364, 502, 606, 859),
    "LA": (225, 318, 337, 504, 985), "ME": (207,), "MD": (240, 301, 410, 443, 667),
    "MA": (339, 351, 413, 508, 617, 774, 781, 857, 978),
    "MI": (231, 248, 269, 313, 517, 586, 616, 734, 810, 906, 947, 989),
    "MN": (218, 320, 507, 612, 651, 763, 952), "MS": (228, 601, 662, 769),
    "MO": (314, 417, 573, 636, 660, 816), "MT": (406,), "NE": (308, 402, 531),
    "NV": (702, 725, 775), "NH": (603,),
    "NJ": (201, 551, 609, 640, 732, 848, 856, 862, 908, 973), "NM": (505, 575),
    "NY": (212, 315, 332, 347, 516, 518, 585, 607, 631, 646, 680, 716, 718, 838, 845, 914,
           917, 929, 934),
    "NC": (252, 336, 704, 743, 828, 910, 919, 980, 984), "ND": (701,),
    "OH": (216, 220, 234, 330, 380, 419, 440, 513, 567, 614, 740, 937),
    "OK": (405, 539, 580, 918), "OR": (458, 503, 541, 971),
    "PA": (215, 223, 267, 272, 412, 445, 484, 570, 610, 717, 724, 814, 878), "RI": (401,),
    "SC": (803, 839, 843, 854, 864), "SD": (605,),
    "TN": (423, 615, 629, 731, 865, 901, 931),
    "TX": (210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737,
           806, 817, 830, 832, 903, 915, 936, 940, 956, 972, 979),
    "UT": (385, 435, 801), "VT": (802,), "VA": (276, 434, 540, 571, 703, 757, 804),
    "WA": (206, 253, 360, 425, 509, 564), "WV": (304, 681),
    "WI": (262, 414, 534, 608, 715, 920), "WY": (307,),
}

STATES: tuple[str, ...] = tuple(STATE_POPULATION)
ZIP_RANGES: dict[str, tuple[int, int]] = {s: FakerAddress.states_postcode[s] for s in STATES}

# Street suffixes: (USPS standard abbreviation, full word, relative frequency).
STREET_SUFFIXES: tuple[tuple[str, str, float], ...] = (
    ("St", "Street", 24), ("Ave", "Avenue", 14), ("Rd", "Road", 14), ("Dr", "Drive", 14),
    ("Ln", "Lane", 9), ("Ct", "Court", 7), ("Blvd", "Boulevard", 3), ("Pl", "Place", 3),
    ("Way", "Way", 4), ("Cir", "Circle", 4), ("Ter", "Terrace", 2), ("Pkwy", "Parkway", 1),
    ("Trl", "Trail", 1),
)

# Directional prefixes: (abbreviation, full word).
DIRECTIONALS: tuple[tuple[str, str], ...] = (
    ("N", "North"), ("S", "South"), ("E", "East"), ("W", "West"),
)

# Street names that are not people's names (most streets in most towns).
STREET_WORDS: tuple[str, ...] = (
    "Main", "Oak", "Pine", "Maple", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Spring", "Ridge", "Church", "Willow", "Mill", "Sunset", "Railroad", "Jackson",
    "Cherry", "Highland", "Forest", "River", "Meadow", "Center", "Lincoln", "Franklin",
    "Jefferson", "Madison", "Adams", "Chestnut", "Birch", "Dogwood", "Hickory", "Magnolia",
    "Valley", "Prospect", "School", "Market", "Union", "Water", "Front", "Broad", "High",
    "Summit", "Orchard", "Poplar", "Sycamore", "Laurel", "Locust", "Cypress", "Aspen",
    "Fairview", "Greenwood", "Lakeview", "Hillcrest", "Riverside", "Woodland", "Country Club",
    "College", "Academy", "Bridge", "Canal", "Harbor", "Bay", "Ocean", "Beach", "Mountain",
    "Creek", "Meadowbrook", "Brookside", "Heritage", "Liberty", "Independence", "Pleasant",
    "Green", "Grove", "King", "Queen", "Prince", "Cambridge", "Oxford", "Windsor", "Devon",
    "Sherwood", "Kensington", "Lexington", "Concord", "Bunker Hill", "Plymouth", "Salem",
)

# Words for made-up town names ("Port Ashford", "Millbury").
TOWN_STEMS: tuple[str, ...] = (
    "Ash", "Brook", "Cedar", "Clear", "Deer", "Elm", "Fair", "Glen", "Green", "Hazel",
    "Holly", "Iron", "Lake", "Maple", "Mill", "Oak", "Pine", "Red", "River", "Rock", "Rose",
    "Silver", "Spring", "Stone", "Sun", "Water", "West", "White", "Wild", "Wood", "Ash",
    "Bel", "Bridge", "Castle", "Chester", "Clay", "Cold", "Crown", "Dover", "Eden", "Fox",
    "Grand", "Hart", "Hay", "Kings", "Lin", "Marl", "New", "North", "Oxen", "Pleasant",
    "Salt", "Sand", "Sharon", "Shel", "Spring", "Staf", "Sterling", "Thorn", "Union", "Wen",
)
TOWN_SUFFIXES: tuple[str, ...] = (
    "ton", "ville", "field", "ford", "wood", "bury", "dale", "burg", "port", "view",
    "haven", "land", "ridge", "mont", "worth", "chester", " Springs", " Falls", " Heights",
    " City", " Park", " Grove", " Hills", " Center",
)
TOWN_PREFIXES: tuple[str, ...] = ("", "", "", "", "", "", "North ", "East ", "West ",
                                  "South ", "New ", "Port ", "Lake ", "Mount ")

# Unit designators as people write them: (canonical, variants).
UNIT_STYLES: tuple[str, ...] = ("Apt ", "Apt. ", "# ", "#", "Unit ", "APT ")

# Free-mail and ISP domains with rough US market shares.
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 40), ("yahoo.com", 14), ("hotmail.com", 8), ("aol.com", 5),
    ("outlook.com", 6), ("icloud.com", 5), ("comcast.net", 4), ("att.net", 3),
    ("msn.com", 2), ("verizon.net", 2), ("sbcglobal.net", 2), ("live.com", 2),
    ("bellsouth.net", 1.5), ("charter.net", 1), ("cox.net", 1), ("me.com", 1),
    ("earthlink.net", 0.5), ("juno.com", 0.5),
)
