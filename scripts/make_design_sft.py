"""Generate the design-spec SFT set: (prompt, platform, format) -> LayoutBody JSON.

    .venv/bin/python scripts/make_design_sft.py

Writes data/design_sft/train.jsonl and data/design_sft/validation.jsonl. Everything is synthetic and
deterministic (fixed seed, no clock, no set iteration): running it twice gives byte-identical files.

How an example is made:
  1. pick a hand-written product/brand/campaign (PRODUCTS), an offer it supports (discount, free trial,
     launch, event, free shipping, matched gifts, or none) and a random subset of brief details
     (audience, mood, brand colours, deadline, logo, CTA wording, headline copy);
  2. write the marketer's request in one of several voices (full sentences, terse spec, casual, brief
     form), with varied phrasings for every detail and for the placement;
  3. derive the ad copy from the brief (headline, supporting line, CTA) and the look from it
     (palette from the requested colours or the mood, font pairing from the mood);
  4. lay it out with a composition chosen by the canvas's aspect ratio and size (COMPOSITIONS below),
     fitting every text to its box with a rough glyph-width model so font sizes scale with the canvas;
  5. validate with `Design.from_layout(response, canvas_for(platform, format))`; any failure aborts.

Every (platform, format) pair in CANVAS_PRESETS gets PER_PAIR examples; the split is stratified per
pair (VAL_PER_PAIR of each go to validation), so both splits cover every pair.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from adgenesis.schema import (  # noqa: E402
    CANVAS_PRESETS,
    FONT_FAMILIES,
    MAX_DESCRIPTION_CHARS,
    MAX_TEXT_CHARS,
    Design,
    LayoutBody,
    canvas_for,
)

SEED = 20240611
PER_PAIR = 20  # examples per (platform, format)
VAL_PER_PAIR = 3  # of which go to validation: 17/3 = 85/15
MAX_LAYOUT_ELEMENTS = 6  # stricter than the schema's 10: the LLM is small, keep the JSON short
OUT_DIR = REPO_ROOT / "data" / "design_sft"


# ----------------------------------------------------------------------------------------------------
# Products, brands and campaigns (hand-written; fictional brands)
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    industry: str
    brand: str
    item: str  # what the request is about, as a marketer would say it
    tagline: str  # default headline
    short: str  # headline for tiny banners (<= ~22 chars)
    benefit: str  # default supporting line
    ctas: tuple[str, str]  # default CTA, alternative the brief may ask for
    image: str  # description of the product/photo element
    role: str  # "product" or "photo"
    moods: tuple[str, str]  # first one is the default when the brief names no mood
    offers: tuple[str, ...]
    audiences: tuple[str, str]
    noun: str = ""  # what a discount applies to: "20% off {noun}"
    event: tuple[str, str] = ("", "")  # (how the brief says it, how the ad says it)


def P(industry, brand, item, tagline, short, benefit, ctas, image, role, moods, offers, audiences, noun="", event=("", "")):
    return Product(industry, brand, item, tagline, short, benefit, tuple(ctas), image, role, tuple(moods),
                   tuple(offers), tuple(audiences), noun, tuple(event))


PRODUCTS: list[Product] = [
    # coffee
    P("coffee", "Ember & Oak Roasters", "oat milk cold brew cans", "Cold brew that keeps up with you", "Smooth cold brew",
      "Slow-steeped for 18 hours, zero bitterness.", ["Shop now", "Grab a 4-pack"],
      "cans of oat milk cold brew on ice in morning light", "product", ["fresh", "bold"],
      ["discount", "launch", "shipping"], ["commuters", "busy parents"], noun="cold brew"),
    P("coffee", "Northbound Coffee Co.", "monthly coffee bean subscription", "Fresh-roasted beans at your door",
      "Fresh beans monthly", "Single-origin coffee, roasted the week it ships.", ["Subscribe", "Start my plan"],
      "bag of single-origin coffee with scattered roasted beans", "product", ["warm", "earthy"],
      ["discount", "shipping", "none"], ["home baristas", "coffee nerds"], noun="your first bag"),
    P("coffee", "Cafe Lumiere", "pumpkin spice latte", "Pumpkin spice is back", "PSL is back",
      "Real pumpkin, real espresso, at all 40 cafes.", ["Find a cafe", "Order ahead"],
      "latte in a ceramic cup with cinnamon sticks and autumn leaves", "product", ["warm", "festive"],
      ["launch", "discount"], ["students", "office workers"], noun="any latte"),
    P("coffee", "Brewtal", "home espresso machine", "Cafe espresso, at home", "Espresso at home",
      "15-bar pressure, ready in 30 seconds.", ["Shop now", "See the machine"],
      "matte black espresso machine pulling a shot", "product", ["dark", "minimal"],
      ["discount", "launch", "shipping"], ["coffee lovers", "new homeowners"], noun="the Brewtal One"),
    # SaaS
    P("saas", "Flowdesk", "project management app", "Every project, one calm workspace", "Projects, simplified",
      "Boards, docs and timelines your whole team will use.", ["Start free trial", "Get started"],
      "laptop showing a colorful kanban board", "product", ["corporate", "minimal"],
      ["trial", "discount", "none"], ["remote teams", "agency owners"], noun="annual plans"),
    P("saas", "Ledgerly", "bookkeeping software", "Bookkeeping that does itself", "Auto bookkeeping",
      "Connect your bank and close the month in minutes.", ["Try it free", "Book a demo"],
      "tablet showing an expense dashboard with categories", "product", ["corporate", "fresh"],
      ["trial", "discount"], ["small business owners", "freelancers"], noun="Ledgerly Pro"),
    P("saas", "Signalbase", "customer analytics platform", "Know why customers stay", "Cut churn",
      "Product analytics and churn alerts in one place.", ["Book a demo", "Save my seat"],
      "analytics dashboard with retention charts", "product", ["corporate", "dark"],
      ["trial", "event", "none"], ["product managers", "SaaS founders"],
      event=("live webinar on churn on May 14", "Live webinar: May 14, 11am ET")),
    P("saas", "Hirewise", "AI recruiting assistant", "Hire great people, faster", "Hire faster",
      "Screen 500 applicants before lunch, fairly.", ["Request a demo", "Try Hirewise"],
      "recruiter smiling at a laptop in a bright office", "photo", ["corporate", "fresh"],
      ["trial", "launch", "event"], ["HR managers", "startup founders"],
      event=("HR leaders roundtable on June 6", "Online roundtable: June 6")),
    P("saas", "Pixelpost", "social media scheduler", "Plan a month of posts in an hour", "Schedule smarter",
      "One calendar for Instagram, TikTok, LinkedIn and X.", ["Start free", "Try Pixelpost"],
      "phone and laptop showing a content calendar", "product", ["playful", "fresh"],
      ["trial", "discount"], ["social media managers", "creators"], noun="Pro plans"),
    P("saas", "Vaultline", "password manager for teams", "One vault for every team password", "Secure every login",
      "End-to-end encrypted. Set up in 10 minutes.", ["Start free trial", "Secure my team"],
      "glowing padlock over a laptop keyboard", "photo", ["dark", "corporate"],
      ["trial", "discount"], ["IT admins", "small businesses"], noun="Business plans"),
    # fitness
    P("fitness", "Pulse Gym", "gym memberships", "Your strongest year starts here", "Get stronger",
      "24/7 access, classes included, no joining fee.", ["Join now", "Claim my pass"],
      "athlete lifting a barbell in a moody gym", "photo", ["energetic", "bold"],
      ["discount", "event"], ["beginners", "busy professionals"], noun="memberships",
      event=("free open day on Saturday", "Free open day this Saturday")),
    P("fitness", "Stride Labs", "carbon-plate running shoes", "Built for your fastest mile", "Run faster",
      "Carbon plate, 40% more energy return.", ["Shop now", "Find my size"],
      "neon running shoe mid-stride on a track", "product", ["energetic", "bold"],
      ["launch", "discount", "shipping"], ["marathon runners", "weekend joggers"], noun="the Stride X2"),
    P("fitness", "Zenflow Yoga", "online yoga classes", "Find your flow at home", "Yoga at home",
      "500+ classes from 10 to 60 minutes.", ["Start free trial", "Try a class"],
      "woman in a calm yoga pose by a sunny window", "photo", ["calm", "fresh"],
      ["trial", "discount"], ["beginners", "new moms"], noun="your first month"),
    P("fitness", "IronCore", "adjustable dumbbells", "A whole rack in two dumbbells", "15 weights in 1",
      "Adjust from 5 to 52 lbs with one twist.", ["Shop now", "Buy now"],
      "pair of adjustable dumbbells on a rubber gym floor", "product", ["bold", "dark"],
      ["discount", "shipping"], ["home gym owners", "apartment dwellers"], noun="IronCore dumbbells"),
    P("fitness", "Pedal Club", "indoor cycling studio", "Ride to the beat", "Ride to the beat",
      "45-minute rhythm rides with live DJs.", ["Book a ride", "Claim a free ride"],
      "indoor cycling class under neon lights", "photo", ["energetic", "playful"],
      ["discount", "event", "launch"], ["young professionals", "spin fans"], noun="class packs",
      event=("grand opening in Austin on the 12th", "Grand opening: Austin, the 12th")),
    # fashion
    P("fashion", "Maison Verre", "silk scarves", "Silk, made to be worn daily", "Pure silk",
      "Hand-rolled edges, printed in Como, Italy.", ["Shop the edit", "Discover"],
      "folded silk scarf with a botanical print on marble", "product", ["luxury", "minimal"],
      ["launch", "shipping", "discount"], ["gift shoppers", "women 30-55"], noun="silk scarves"),
    P("fashion", "Denim District", "raw selvedge jeans", "Jeans that get better with age", "Raw selvedge",
      "14oz Japanese denim, cut in six fits.", ["Shop jeans", "Find my fit"],
      "folded indigo selvedge jeans with a leather patch", "product", ["bold", "earthy"],
      ["discount", "shipping", "launch"], ["men 25-40", "denim heads"], noun="all denim"),
    P("fashion", "Loop & Thread", "organic cotton kids' basics", "Soft on skin, easy on the planet", "Organic kids' basics",
      "GOTS-certified cotton that survives the wash.", ["Shop kids", "Shop now"],
      "stack of pastel kids' t-shirts and leggings", "product", ["playful", "fresh"],
      ["discount", "shipping"], ["parents of toddlers", "eco-minded families"], noun="kids' basics"),
    P("fashion", "Nightshift", "streetwear capsule drop", "The midnight capsule is live", "Drop 07 is live",
      "Limited run. No restocks.", ["Shop the drop", "Cop now"],
      "model in an oversized black hoodie under a streetlight", "photo", ["dark", "bold"],
      ["launch", "none"], ["sneakerheads", "Gen Z"]),
    P("fashion", "Aurelle", "gold-plated jewelry", "Everyday gold, forever kind", "Everyday gold",
      "Recycled 18k gold vermeil, hypoallergenic.", ["Shop jewelry", "Shop gifts"],
      "gold hoop earrings and a chain necklace on linen", "product", ["luxury", "warm"],
      ["discount", "shipping", "launch"], ["Mother's Day shoppers", "women 25-45"], noun="all jewelry"),
    P("fashion", "Trailhead Outfitters", "waterproof hiking jackets", "Rain is just weather", "Stay dry",
      "3-layer shell, sealed seams, packs into its pocket.", ["Shop jackets", "Gear up"],
      "hiker in an orange rain jacket on a misty ridge", "photo", ["earthy", "energetic"],
      ["discount", "launch"], ["hikers", "outdoor families"], noun="outerwear"),
    # real estate
    P("real_estate", "Harbor View Residences", "waterfront condos", "Wake up to the water", "Waterfront living",
      "1-3 bedroom condos from $489k, 10 min to downtown.", ["Book a tour", "See floor plans"],
      "modern condo balcony overlooking a harbor at sunset", "photo", ["luxury", "calm"],
      ["event", "launch", "none"], ["first-time buyers", "downsizers"],
      event=("open house this Saturday 11am-3pm", "Open house Sat 11am-3pm")),
    P("real_estate", "Keystone Realty", "free home valuation", "What's your home worth today?", "Free home valuation",
      "Get a local agent's estimate in 24 hours.", ["Get my estimate", "Talk to an agent"],
      "suburban house with a sold sign on the lawn", "photo", ["corporate", "warm"],
      ["none", "event"], ["homeowners", "empty nesters"],
      event=("home seller seminar on March 9", "Seller seminar: March 9")),
    P("real_estate", "Parkside Lofts", "new rental lofts", "Loft living, pets welcome", "Now leasing",
      "Studios to 2-beds with rooftop pool and gym.", ["Schedule a tour", "Apply now"],
      "bright loft apartment with exposed brick and big windows", "photo", ["fresh", "minimal"],
      ["discount", "event", "launch"], ["young professionals", "pet owners"], noun="your first month's rent",
      event=("leasing party on Thursday", "Leasing party Thursday 5-8pm")),
    P("real_estate", "Summit Land Co.", "mountain cabin lots", "Your own acre in the mountains", "Mountain lots",
      "1-5 acre lots with views, from $79k.", ["View lots", "Book a visit"],
      "aerial view of forested mountain lots at golden hour", "photo", ["earthy", "calm"],
      ["none", "event"], ["retirees", "remote workers"],
      event=("land tour weekend, Oct 5-6", "Land tour weekend Oct 5-6")),
    # fintech
    P("fintech", "Coinpath", "crypto investing app", "Start investing with $1", "Invest from $1",
      "Buy, sell and auto-invest in 50+ coins.", ["Download the app", "Get started"],
      "phone showing a rising portfolio chart", "product", ["dark", "energetic"],
      ["launch", "none"], ["first-time investors", "Gen Z"]),
    P("fintech", "Nestegg", "high-yield savings account", "Your savings deserve 4.5% APY", "4.5% APY savings",
      "No fees, no minimums, FDIC insured.", ["Open an account", "Start saving"],
      "glass jar of coins with a small plant growing from it", "photo", ["fresh", "corporate"],
      ["none", "launch"], ["young families", "savers"]),
    P("fintech", "Splitly", "bill-splitting app", "Split rent, not friendships", "Split bills easily",
      "Track shared costs and settle up in one tap.", ["Get the app", "Download free"],
      "group of roommates laughing around a phone", "photo", ["playful", "fresh"],
      ["launch", "none"], ["roommates", "college students"]),
    P("fintech", "Forge Capital", "small business loans", "Funding in days, not months", "Fast business loans",
      "$10k-$500k, decisions in 24 hours.", ["Check my rate", "Apply now"],
      "bakery owner smiling behind her counter", "photo", ["corporate", "warm"],
      ["none", "event"], ["small business owners", "restaurant owners"],
      event=("free cash-flow workshop on April 18", "Free workshop April 18")),
    P("fintech", "Tallyo", "corporate cards", "Corporate cards with built-in limits", "Smarter spend",
      "Issue cards in seconds. Receipts match themselves.", ["Get started", "Book a demo"],
      "sleek black corporate card on a desk", "product", ["minimal", "dark"],
      ["none", "launch", "event"], ["CFOs", "finance teams"],
      event=("finance leaders breakfast on Sept 12", "CFO breakfast Sept 12")),
    # travel
    P("travel", "Azure Isle Resorts", "all-inclusive beach resort", "Your overwater villa awaits", "Escape to Azure Isle",
      "All-inclusive Maldives stays from $299/night.", ["Book now", "Check dates"],
      "overwater villas on turquoise water at sunrise", "photo", ["luxury", "calm"],
      ["discount", "none"], ["honeymooners", "couples"], noun="summer stays"),
    P("travel", "Wayfarer Rail", "European rail passes", "33 countries, one pass", "See Europe by rail",
      "Hop on and off trains across Europe for a month.", ["Get your pass", "Plan a trip"],
      "train crossing an alpine viaduct", "photo", ["fresh", "earthy"],
      ["discount", "none"], ["backpackers", "students"], noun="rail passes"),
    P("travel", "Skylark Airlines", "new nonstop route to Lisbon", "Nonstop to Lisbon, from $349", "Fly to Lisbon",
      "Daily flights from Boston starting June 1.", ["Book flights", "See fares"],
      "plane wing above Lisbon's red rooftops", "photo", ["fresh", "bold"],
      ["launch", "discount"], ["travelers", "families"], noun="Lisbon fares"),
    P("travel", "Basecamp Vans", "campervan rentals", "Road trip, fully equipped", "Rent a campervan",
      "Bed, kitchen and solar power. Just add friends.", ["Reserve a van", "See vans"],
      "campervan parked by a lake with mountains behind", "photo", ["earthy", "playful"],
      ["discount", "none"], ["couples", "adventure seekers"], noun="weekday rentals"),
    P("travel", "CityHop Tours", "guided food tours in Rome", "Eat Rome like a local", "Rome food tours",
      "3 hours, 10 tastings, small groups.", ["Book a tour", "See tours"],
      "plates of pasta and suppli on a trattoria table", "photo", ["warm", "playful"],
      ["discount", "none"], ["foodies", "first-time visitors"], noun="food tours"),
    # restaurants
    P("restaurant", "Slice Society", "wood-fired pizza", "Wood-fired in 90 seconds", "Hot pizza, fast",
      "Naples-style dough, 48-hour ferment.", ["Order now", "Find us"],
      "blistered margherita pizza fresh from the oven", "product", ["warm", "bold"],
      ["discount", "launch", "none"], ["families", "late-night crowds"], noun="large pizzas"),
    P("restaurant", "Green Bowl", "salad bowls", "Lunch that loves you back", "Fresh bowls daily",
      "Seasonal greens, grains and proteins, your way.", ["Order ahead", "Get the app"],
      "colorful grain bowl with avocado and salmon", "product", ["fresh", "earthy"],
      ["discount", "launch"], ["office workers", "students"], noun="all bowls"),
    P("restaurant", "Sakura Ramen House", "new spicy miso ramen", "Spicy miso, slow-simmered", "New spicy miso",
      "12-hour broth, hand-pulled noodles.", ["Order now", "Reserve a table"],
      "steaming bowl of spicy miso ramen with a soft egg", "product", ["dark", "warm"],
      ["launch", "discount"], ["foodies", "students"], noun="all ramen"),
    P("restaurant", "The Copper Pot", "weekend brunch", "Bottomless brunch, every weekend", "Weekend brunch",
      "Sat & Sun 10-3. Live jazz, bottomless mimosas.", ["Book a table", "See menu"],
      "brunch table with pancakes, eggs and mimosas", "photo", ["warm", "festive"],
      ["none", "event"], ["groups of friends", "couples"],
      event=("Mother's Day brunch on May 12", "Mother's Day brunch, May 12")),
    P("restaurant", "Smokestack BBQ", "BBQ catering packages", "Feed the whole crew", "BBQ catering",
      "Brisket, ribs and sides for 10 to 200 people.", ["Get a quote", "Order catering"],
      "trays of smoked brisket and ribs with sides", "product", ["bold", "warm"],
      ["discount", "none"], ["event planners", "office managers"], noun="catering orders"),
    # nonprofits
    P("nonprofit", "Clean Water Collective", "clean water fundraiser", "$30 gives one person clean water",
      "Give clean water", "100% of public donations fund wells.", ["Donate now", "Give today"],
      "child drinking from a new village water pump", "photo", ["calm", "fresh"],
      ["match", "none"], ["donors", "young professionals"]),
    P("nonprofit", "Paws & Hearts Rescue", "pet adoption drive", "Your new best friend is waiting", "Adopt, don't shop",
      "Over 60 dogs and cats ready for homes.", ["Meet the pets", "Adopt now"],
      "scruffy terrier puppy looking at the camera", "photo", ["warm", "playful"],
      ["event", "match"], ["families", "pet lovers"],
      event=("adoption weekend, Oct 19-20", "Adoption weekend Oct 19-20")),
    P("nonprofit", "ReadUp Foundation", "children's literacy program", "Every child deserves a bookshelf", "Give a book",
      "$25 puts 10 books in a child's home.", ["Donate", "Give a book"],
      "girl reading a picture book on a library floor", "photo", ["warm", "fresh"],
      ["match", "none"], ["parents", "teachers"]),
    P("nonprofit", "Ocean Guard", "beach cleanup volunteer day", "Join 5,000 hands for the ocean", "Clean the coast",
      "Gloves, bags and coffee provided.", ["Sign up", "Volunteer"],
      "volunteers collecting plastic on a sunny beach", "photo", ["fresh", "energetic"],
      ["event", "none"], ["volunteers", "students"],
      event=("coastal cleanup on April 22", "Cleanup day April 22")),
    # games
    P("games", "Starfall Odyssey", "space RPG", "Chart your own galaxy", "Explore the stars",
      "Open-world space RPG. Out now on PC and console.", ["Wishlist now", "Play now"],
      "starship flying past a ringed purple planet", "photo", ["dark", "bold"],
      ["launch", "discount"], ["RPG fans", "PC gamers"], noun="the Deluxe Edition"),
    P("games", "Bubble Bash", "mobile puzzle game", "Pop, match, repeat", "Pop and match",
      "1,000 levels and daily rewards. Free to play.", ["Play free", "Install now"],
      "cartoon bubbles bursting in candy colors", "photo", ["playful", "festive"],
      ["launch", "none"], ["casual gamers", "commuters"]),
    P("games", "Kingdom Tactics", "strategy game's new season", "Season 4: The Iron Crown", "Season 4 is live",
      "New heroes, new maps, ranked rewards.", ["Play now", "Watch trailer"],
      "armored knight on a castle wall at dusk", "photo", ["dark", "bold"],
      ["launch", "event"], ["strategy gamers", "esports fans"],
      event=("Season 4 launch stream on Friday", "Live launch stream Friday 6pm")),
    P("games", "Turbo Drift", "arcade racing game", "Drift first, brake never", "Drift first",
      "Online races, 40 cars, split-screen with friends.", ["Buy now", "Pre-order"],
      "neon sports car drifting through a rainy city", "photo", ["energetic", "dark"],
      ["discount", "launch"], ["racing fans", "teens"], noun="Turbo Drift"),
    # beauty
    P("beauty", "Dewdrop Skincare", "vitamin C serum", "Glow that shows up daily", "Instant glow",
      "15% vitamin C, fragrance-free, dermatologist tested.", ["Shop now", "Get glowing"],
      "amber dropper bottle of serum with orange slices", "product", ["fresh", "luxury"],
      ["discount", "launch", "shipping"], ["women 25-40", "skincare fans"], noun="the serum"),
    P("beauty", "Velvet Lab", "long-wear matte lipstick", "12 hours. Zero touch-ups.", "12-hour matte",
      "18 shades, vegan and cruelty-free.", ["Shop shades", "Find my shade"],
      "row of matte lipsticks in red and nude shades", "product", ["bold", "luxury"],
      ["discount", "launch"], ["makeup lovers", "Gen Z"], noun="all lipsticks"),
    P("beauty", "Barber & Co.", "beard care kit", "The beard kit he'll actually use", "Beard care kit",
      "Oil, balm and comb in a gift-ready tin.", ["Shop gifts", "Buy the kit"],
      "beard oil, balm tin and wooden comb on slate", "product", ["dark", "earthy"],
      ["discount", "shipping"], ["Father's Day shoppers", "men 25-45"], noun="beard kits"),
    P("beauty", "Bloom Spa", "spa day packages", "Breathe out. Book in.", "Spa day escape",
      "Massage, facial and sauna access in one visit.", ["Book now", "Gift a spa day"],
      "candles and folded towels beside a massage table", "photo", ["calm", "luxury"],
      ["discount", "none"], ["couples", "gift shoppers"], noun="spa packages"),
    # home
    P("home", "Nook Furniture", "modular sofa", "The sofa that grows with you", "Modular sofas",
      "Rearrange in minutes. Washable covers.", ["Shop sofas", "Design yours"],
      "sage green modular sofa in a sunny living room", "product", ["minimal", "warm"],
      ["discount", "shipping", "launch"], ["renters", "new homeowners"], noun="the Nook sofa"),
    P("home", "Lumen Smart Home", "smart LED bulbs", "Light every mood with your voice", "Smart lighting",
      "16 million colours, works with every assistant.", ["Shop now", "Build a kit"],
      "living room glowing in purple and blue smart lighting", "photo", ["dark", "playful"],
      ["discount", "launch"], ["tech enthusiasts", "renters"], noun="starter kits"),
    P("home", "Hearth & Home", "cast iron cookware", "Cookware for the next 100 years", "Built to last",
      "Pre-seasoned cast iron, made in Ohio.", ["Shop cookware", "Shop sets"],
      "cast iron skillet with seared steak and rosemary", "product", ["earthy", "warm"],
      ["discount", "shipping"], ["home cooks", "couples building a registry"], noun="cookware sets"),
    # education
    P("education", "CodeSprout", "coding bootcamp", "Become a developer in 16 weeks", "Learn to code",
      "Live mentors, real projects, career support.", ["Apply now", "Book a call"],
      "students pair-programming at laptops", "photo", ["corporate", "energetic"],
      ["event", "none", "discount"], ["career changers", "recent grads"], noun="tuition",
      event=("free info session on Tuesday", "Free info session Tuesday 7pm")),
    P("education", "Lingo Leap", "language learning app", "Speak Spanish in 3 months", "Speak Spanish",
      "10-minute lessons that fit your day.", ["Start learning", "Try free"],
      "phone with a cheerful lesson screen next to a coffee", "product", ["playful", "fresh"],
      ["trial", "discount"], ["travelers", "students"], noun="Premium"),
    P("education", "Brightpath Tutoring", "SAT prep courses", "Raise your SAT score by 150+", "SAT prep that works",
      "Small groups, expert tutors, 6 full practice tests.", ["Enroll now", "Book a free class"],
      "teenager studying with notes and a laptop", "photo", ["corporate", "fresh"],
      ["discount", "event"], ["high school juniors", "parents"], noun="SAT prep",
      event=("free practice test on Saturday", "Free practice test Saturday")),
    # pets
    P("pets", "Happy Tails", "fresh dog food subscription", "Real food for really good dogs", "Fresh dog food",
      "Vet-designed recipes, delivered fresh.", ["Build a plan", "Get started"],
      "golden retriever next to a bowl of fresh food", "photo", ["warm", "playful"],
      ["discount", "shipping"], ["dog parents", "puppy owners"], noun="your first box"),
    P("pets", "Whisker Works", "self-cleaning litter box", "Never scoop again", "Never scoop again",
      "Self-cleaning, odor-sealed, with app alerts.", ["Shop now", "Learn more"],
      "white self-cleaning litter box with a cat beside it", "product", ["minimal", "fresh"],
      ["discount", "launch"], ["cat owners", "busy professionals"], noun="the LitterPod"),
    # automotive
    P("automotive", "Volta Motors", "electric SUV", "300 miles. Zero emissions.", "Meet the Volta S",
      "0-60 in 4.1s, seats seven, from $44,900.", ["Book a test drive", "Reserve now"],
      "silver electric SUV on a coastal highway", "product", ["minimal", "luxury"],
      ["launch", "event", "none"], ["families", "EV-curious drivers"],
      event=("test drive weekend at all showrooms", "Test drive weekend, all showrooms")),
    P("automotive", "Spark Auto Care", "oil change service", "In and out in 20 minutes", "20-min oil change",
      "No appointment needed. 50 locations.", ["Find a location", "Book service"],
      "mechanic checking the oil under a car hood", "photo", ["bold", "corporate"],
      ["discount", "none"], ["commuters", "rideshare drivers"], noun="oil changes"),
    # health and wellness
    P("health", "ClearSight Optical", "prescription glasses", "Frames you'll love to look through", "Glasses from $95",
      "Free home try-on of 5 frames.", ["Try on free", "Shop frames"],
      "tortoiseshell glasses resting on an open book", "product", ["minimal", "fresh"],
      ["discount", "shipping", "none"], ["students", "professionals"], noun="all frames"),
    P("health", "Calmly", "meditation app", "Sleep better in 7 nights", "Sleep better",
      "Guided sleep stories and 5-minute meditations.", ["Try free", "Start now"],
      "moonlit bedroom with a phone playing a sleep story", "photo", ["calm", "dark"],
      ["trial", "discount"], ["shift workers", "anxious sleepers"], noun="annual plans"),
    P("health", "Vitalis Telehealth", "online doctor visits", "See a doctor in 15 minutes", "Doctor on demand",
      "Board-certified doctors, 24/7, from $39.", ["Start a visit", "Download the app"],
      "doctor smiling on a video call on a phone", "photo", ["corporate", "calm"],
      ["none", "launch"], ["parents", "busy professionals"]),
    # food and drink
    P("grocery", "Harvest Box", "organic produce delivery", "Farm to door in 24 hours", "Farm-fresh produce",
      "Seasonal organic fruit and veg from local farms.", ["Get my box", "Order now"],
      "wooden crate overflowing with organic vegetables", "product", ["earthy", "fresh"],
      ["discount", "shipping"], ["busy families", "healthy eaters"], noun="your first box"),
    P("beverage", "Fizzwell", "prebiotic soda", "Soda that's good for your gut", "Gut-friendly soda",
      "5g sugar, 9g fiber, 8 fruity flavours.", ["Shop now", "Try a pack"],
      "colorful cans of prebiotic soda splashing into water", "product", ["playful", "fresh"],
      ["discount", "launch", "shipping"], ["Gen Z", "health-conscious snackers"], noun="variety packs"),
    P("beverage", "Oak & Vine Cellars", "holiday wine gift boxes", "Give a bottle worth opening", "Wine gift boxes",
      "Hand-picked reds and whites, gift-wrapped.", ["Shop gifts", "Send a gift"],
      "wine bottles in a wooden gift box with a ribbon", "product", ["festive", "luxury"],
      ["discount", "shipping"], ["corporate gift buyers", "wine lovers"], noun="gift boxes"),
    # electronics
    P("electronics", "Sonic Peak", "noise-cancelling headphones", "Silence, on demand", "Pure silence",
      "40-hour battery, adaptive noise cancelling.", ["Shop now", "Buy Peak 2"],
      "matte headphones floating on a soft gradient backdrop", "product", ["minimal", "dark"],
      ["discount", "launch"], ["commuters", "remote workers"], noun="the Peak 2"),
    P("electronics", "Aero Drones", "4K camera drone", "Your sky, in 4K", "Fly in 4K",
      "249g, 34-minute flights, no license needed.", ["Shop drones", "Learn more"],
      "compact drone hovering over a rocky coastline", "product", ["energetic", "fresh"],
      ["discount", "launch"], ["travel creators", "hobbyists"], noun="the Aero Mini"),
    # events and entertainment
    P("events", "Neon Fields Festival", "summer music festival", "Three days. Forty artists.", "Neon Fields is back",
      "July 18-20, Riverside Park. Camping available.", ["Get tickets", "See the lineup"],
      "crowd with hands up under colorful stage lights", "photo", ["festive", "energetic"],
      ["discount", "event"], ["festival fans", "students"], noun="early-bird tickets",
      event=("lineup announcement on Friday", "Full lineup drops Friday")),
    P("events", "Encore Theater", "new musical", "The musical everyone's humming", "Now playing",
      "8 weeks only at the Encore Theater.", ["Buy tickets", "Get seats"],
      "spotlit stage with performers mid-dance", "photo", ["luxury", "festive"],
      ["discount", "none"], ["theater lovers", "date-night couples"], noun="orchestra seats"),
]


# ----------------------------------------------------------------------------------------------------
# Look: palettes by mood, brand-colour palettes, font pairings
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Palette:
    background: str
    headline: str
    body: str
    button: str
    button_text: str


def pal(*colors: str) -> Palette:
    return Palette(*colors)


MOOD_WORDS: dict[str, list[str]] = {
    "bold": ["bold", "bold and punchy", "loud and confident"],
    "minimal": ["clean and minimal", "minimal", "simple, with lots of whitespace"],
    "luxury": ["premium", "luxurious", "elegant and high-end"],
    "playful": ["playful", "fun and colorful", "cheeky"],
    "warm": ["warm and cozy", "inviting", "homey"],
    "fresh": ["fresh", "bright and fresh", "light and airy"],
    "corporate": ["professional", "trustworthy", "polished and corporate"],
    "energetic": ["energetic", "sporty", "high-energy"],
    "dark": ["dark and moody", "edgy", "sleek and dark"],
    "earthy": ["natural", "earthy", "organic-feeling"],
    "festive": ["festive", "celebratory", "holiday-ish"],
    "calm": ["calm", "soothing", "serene"],
}

MOOD_PALETTES: dict[str, list[Palette]] = {
    "bold": [pal("#111111", "#FFFFFF", "#D9D9D9", "#FF3B30", "#FFFFFF"),
             pal("#FFD400", "#111111", "#333333", "#111111", "#FFD400"),
             pal("#E63946", "#FFFFFF", "#FDEDEE", "#1D3557", "#FFFFFF")],
    "minimal": [pal("#FFFFFF", "#111111", "#555555", "#111111", "#FFFFFF"),
                pal("#F5F5F0", "#222222", "#666666", "#222222", "#F5F5F0"),
                pal("#F4F6F8", "#1F2933", "#52606D", "#3E4C59", "#FFFFFF")],
    "luxury": [pal("#0B0B0B", "#D4AF37", "#E8E2D0", "#D4AF37", "#0B0B0B"),
               pal("#1C1A17", "#F2E6C9", "#BFB39B", "#B08D57", "#1C1A17"),
               pal("#F7F3EE", "#2B2118", "#6B5B4B", "#2B2118", "#F7F3EE")],
    "playful": [pal("#FFF1E6", "#FF4D6D", "#5C4B51", "#7B2CBF", "#FFFFFF"),
                pal("#FDE74C", "#2B2D42", "#4A4E69", "#EF476F", "#FFFFFF"),
                pal("#CDEAC0", "#22223B", "#4A4E69", "#FF6F59", "#FFFFFF")],
    "warm": [pal("#FFF4E6", "#5A2E0E", "#8A5A3B", "#C8553D", "#FFFFFF"),
             pal("#3E2723", "#FFE0B2", "#D7CCC8", "#FF8F00", "#3E2723"),
             pal("#F6E7D7", "#6F1D1B", "#99582A", "#6F1D1B", "#F6E7D7")],
    "fresh": [pal("#E8F8F5", "#0B6E4F", "#3D5A4F", "#08A045", "#FFFFFF"),
              pal("#F0FAFF", "#0077B6", "#415A77", "#00B4D8", "#FFFFFF"),
              pal("#FFFFFF", "#2A9D8F", "#4F5D75", "#E9C46A", "#264653")],
    "corporate": [pal("#FFFFFF", "#0A2540", "#425466", "#635BFF", "#FFFFFF"),
                  pal("#0A2540", "#FFFFFF", "#ADBDCC", "#00D4FF", "#0A2540"),
                  pal("#F3F6FA", "#102A43", "#486581", "#2680C2", "#FFFFFF")],
    "energetic": [pal("#0D0D0D", "#C6FF00", "#E0E0E0", "#C6FF00", "#0D0D0D"),
                  pal("#FF5400", "#FFFFFF", "#FFE5D9", "#1B1B1B", "#FFFFFF"),
                  pal("#1A1A2E", "#FFFFFF", "#C9C9D9", "#E94560", "#FFFFFF")],
    "dark": [pal("#121212", "#FFFFFF", "#B3B3B3", "#BB86FC", "#121212"),
             pal("#0F172A", "#F8FAFC", "#94A3B8", "#38BDF8", "#0F172A"),
             pal("#1B1B1B", "#EDEDED", "#9E9E9E", "#E50914", "#FFFFFF")],
    "earthy": [pal("#EDE6DB", "#3A5A40", "#588157", "#3A5A40", "#EDE6DB"),
               pal("#283618", "#FEFAE0", "#DDA15E", "#DDA15E", "#283618"),
               pal("#F2EBE3", "#5C4033", "#7D6B5D", "#6B8F71", "#FFFFFF")],
    "festive": [pal("#9B111E", "#FFFFFF", "#FFD9DC", "#FFD166", "#5A0A12"),
                pal("#0B3D2E", "#FFFFFF", "#CDE8DC", "#C1121F", "#FFFFFF"),
                pal("#1D1A4F", "#FFD700", "#E0DFFD", "#FF6B6B", "#FFFFFF")],
    "calm": [pal("#EAF4F4", "#2F4858", "#5C7A89", "#6B9AC4", "#FFFFFF"),
             pal("#F3EFFA", "#3D3461", "#6D6A8A", "#7B6CD9", "#FFFFFF"),
             pal("#E9EDE4", "#3F4E3A", "#6A7965", "#5E7D4F", "#FFFFFF")],
}

# How a brief names brand colours -> the palette the ad then uses (overrides the mood's palette).
COLOR_REQUESTS: list[tuple[str, Palette]] = [
    ("navy and gold", pal("#0B1F3A", "#F2C14E", "#D6DEE8", "#F2C14E", "#0B1F3A")),
    ("black with neon green", pal("#000000", "#39FF14", "#CCCCCC", "#39FF14", "#000000")),
    ("pastel pink and mint", pal("#FDE2E4", "#4A3B47", "#6B5E68", "#9ED8C6", "#2F3E46")),
    ("forest green and cream", pal("#FFF8E7", "#1E4D2B", "#4B6B53", "#1E4D2B", "#FFF8E7")),
    ("red and white", pal("#FFFFFF", "#C8102E", "#444444", "#C8102E", "#FFFFFF")),
    ("teal and coral", pal("#0F4C5C", "#FFFFFF", "#CFE3E8", "#FF7F50", "#FFFFFF")),
    ("orange and charcoal", pal("#2D2D2D", "#FF8C42", "#D0D0D0", "#FF8C42", "#2D2D2D")),
    ("sky blue and white", pal("#DFF3FF", "#0B4F8A", "#37607F", "#2AA4F4", "#FFFFFF")),
    ("purple and yellow", pal("#3C1A5B", "#FFF748", "#E3D7F0", "#FFF748", "#3C1A5B")),
    ("black and white only", pal("#FFFFFF", "#000000", "#444444", "#000000", "#FFFFFF")),
    ("burgundy and blush", pal("#F8E1E4", "#6D071A", "#8C4A55", "#6D071A", "#F8E1E4")),
]

# (headline font, body font) per mood
MOOD_FONTS: dict[str, list[tuple[str, str]]] = {
    "bold": [("Bebas Neue", "Inter"), ("Oswald", "Roboto")],
    "minimal": [("Inter", "Inter"), ("Montserrat", "Lato")],
    "luxury": [("Playfair Display", "Lato"), ("Playfair Display", "Montserrat")],
    "playful": [("Poppins", "Poppins"), ("Montserrat", "Poppins")],
    "warm": [("Playfair Display", "Lato"), ("Poppins", "Lato")],
    "fresh": [("Montserrat", "Lato"), ("Poppins", "Inter")],
    "corporate": [("Inter", "Inter"), ("Roboto", "Roboto")],
    "energetic": [("Oswald", "Roboto"), ("Bebas Neue", "Montserrat")],
    "dark": [("Montserrat", "Inter"), ("Oswald", "Inter")],
    "earthy": [("Playfair Display", "Lato"), ("Montserrat", "Lato")],
    "festive": [("Playfair Display", "Poppins"), ("Bebas Neue", "Poppins")],
    "calm": [("Lato", "Lato"), ("Montserrat", "Lato")],
}
REGULAR_HEADLINE_MOODS = {"luxury", "minimal", "calm"}  # these get a regular-weight headline

# Average glyph width as a fraction of the font size (rough, per family); used to fit text to boxes.
GLYPH_WIDTH = {"Montserrat": 0.62, "Inter": 0.56, "Roboto": 0.54, "Playfair Display": 0.55, "Poppins": 0.62,
               "Lato": 0.53, "Oswald": 0.46, "Bebas Neue": 0.42}
LINE_HEIGHT = 1.2
assert set(GLYPH_WIDTH) == set(FONT_FAMILIES) and all(f in FONT_FAMILIES for p in MOOD_FONTS.values() for pair in p for f in pair)


# ----------------------------------------------------------------------------------------------------
# Prompt wording
# ----------------------------------------------------------------------------------------------------

FORMAT_PHRASES: dict[tuple[str, str], list[str]] = {
    ("meta", "square"): ["a square Facebook feed ad", "a 1080x1080 Meta ad", "a square Meta creative"],
    ("meta", "portrait"): ["a 4:5 Facebook feed ad", "a portrait Meta ad", "a vertical 1080x1350 Facebook post"],
    ("meta", "story"): ["a Facebook story", "a full-screen Meta story ad", "a 9:16 Facebook Stories creative"],
    ("meta", "landscape"): ["a landscape Facebook link ad", "a 1200x628 Meta ad", "a wide Facebook feed image"],
    ("instagram", "square"): ["an Instagram post", "a square IG feed ad", "a 1:1 Instagram creative"],
    ("instagram", "portrait"): ["a 4:5 Instagram post", "a portrait Instagram feed ad", "a tall IG feed creative"],
    ("instagram", "story"): ["an Instagram story", "an IG story ad", "a 9:16 Instagram Stories frame"],
    ("tiktok", "story"): ["a TikTok ad", "a TikTok in-feed creative", "a vertical TikTok frame"],
    ("linkedin", "square"): ["a square LinkedIn post", "a 1200x1200 LinkedIn sponsored post", "a square LinkedIn feed ad"],
    ("linkedin", "landscape"): ["a LinkedIn sponsored content image", "a landscape LinkedIn ad", "a 1200x627 LinkedIn banner"],
    ("linkedin", "portrait"): ["a vertical LinkedIn ad", "a 4:5 LinkedIn post", "a portrait LinkedIn creative"],
    ("x", "landscape"): ["an X post image", "a 16:9 ad for X", "a landscape promoted post on X (Twitter)"],
    ("x", "square"): ["a square X ad", "a 1:1 promoted post on X", "a square Twitter/X image"],
    ("youtube", "thumbnail"): ["a YouTube thumbnail", "a thumbnail for our YouTube video", "a 1280x720 YouTube thumbnail"],
    ("display", "medium_rectangle"): ["a 300x250 display ad", "a medium rectangle banner", "an MPU banner (300x250)"],
    ("display", "leaderboard"): ["a 728x90 leaderboard", "a leaderboard banner", "a top-of-page 728x90 banner"],
    ("display", "skyscraper"): ["a 160x600 skyscraper", "a wide skyscraper banner", "a 160x600 sidebar banner"],
    ("display", "billboard"): ["a 970x250 billboard", "a billboard display banner", "a homepage billboard ad (970x250)"],
}
GENERIC_FORMAT_PHRASES = ["an ad", "a creative", "an ad layout"]  # the request fields carry the format

DEADLINES: list[tuple[str, str]] = [  # (how the brief says it, how the ad says it)
    ("Sunday", "Ends Sunday"), ("Friday at midnight", "Ends Friday at midnight"), ("March 31", "Ends March 31"),
    ("June 30", "Until June 30"), ("Labor Day", "Through Labor Day"), ("Cyber Monday", "Ends Cyber Monday"),
    ("November 30", "Ends Nov 30"), ("midnight tonight", "Ends tonight"), ("the 15th", "Ends the 15th"),
    ("New Year's Eve", "Ends New Year's Eve"),
]
PERCENTS = [10, 15, 20, 25, 30, 40, 50]
TRIAL_DAYS = [7, 14, 30]

OFFER_SENTENCES = {
    "discount": ["We're running {pct}% off {noun}.", "Push the {pct}% discount on {noun}.",
                 "Headline should mention {pct}% off.", "It's a {pct}%-off promo.", "Lead with the {pct}% off deal."],
    "trial": ["Highlight the {days}-day free trial.", "The hook is a free {days}-day trial.",
              "We want sign-ups for the {days}-day trial."],
    "launch": ["It's a brand-new launch.", "We just launched it, so make that clear.", "This is the launch announcement."],
    "event": ["Promote the {event}.", "It's for the {event}.", "Goal is to get people to the {event}."],
    "shipping": ["Mention free shipping.", "Free shipping is the hook.", "Call out free shipping on every order."],
    "match": ["Donations are being matched 2x.", "Mention that every gift is matched.", "We have a 2x donation match running."],
}
OFFER_FRAGMENTS = {"discount": "{pct}% off", "trial": "{days}-day free trial", "launch": "launch",
                   "event": "{event}", "shipping": "free shipping", "match": "gifts matched 2x"}
DETAIL_SENTENCES = {
    "deadline": ["Offer ends {d}.", "It runs until {d}.", "Deadline is {d}."],
    "audience": ["Target audience: {a}.", "It's aimed at {a}.", "We're speaking to {a}.", "Audience is mostly {a}."],
    "mood": ["Keep it {m}.", "The vibe should be {m}.", "Make it feel {m}.", "Tone: {m}."],
    "colors": ["Use {c}.", "Brand colours are {c}.", "Stick to {c}.", "Colour-wise: {c}."],
    "logo": ["Include our logo.", "Logo needs to be visible.", "Put the {brand} logo on it."],
    "cta": ['CTA: "{cta}".', 'Button should say "{cta}".', 'Use "{cta}" as the call to action.'],
    "headline": ['Headline: "{h}".', 'Use the line "{h}".', 'Copy idea: "{h}".'],
}
DETAIL_FRAGMENTS = {"deadline": "ends {d}", "audience": "for {a}", "mood": "{m}", "colors": "{c}",
                    "logo": "with logo", "cta": 'CTA "{cta}"', "headline": 'headline "{h}"'}

SENTENCE_OPENERS = [
    "Need {fmt} for {what}.", "Can you put together {fmt} for {what}?", "Please create {fmt} advertising {what}.",
    "Design {fmt} promoting {what}.", "We need {fmt} to promote {what}.", "Looking for {fmt} for {what}.",
    "Make {fmt} for {what} that actually converts.", "I'd like {fmt} for {what}.", "Put together {fmt} for {what}, please.",
    "Our team needs {fmt} for {what}.",
]
TERSE_TEMPLATES = ["{Fmt} | {what} | {frags}", "{Fmt} for {what}: {frags}", "{What} - {fmt}, {frags}"]
CASUAL_OPENERS = ["hey! could you whip up {fmt} for {what}?", "quick one: {fmt} for {what}.",
                  "need {fmt} asap for {what}.", "can we get {fmt} for {what}?"]
CASUAL_CLOSERS = ["", "", " thanks!", " thx", " ty!"]
BRIEF_TEMPLATES = ["Campaign: {what}. Placement: {fmt}. {details}",
                   "Client: {brand}. Product: {item}. Deliverable: {fmt}. {details}"]
WHAT_FORMS = ["{possessive} {item}", "our {item} ({brand})", "the {item} from {brand}", "{possessive} new campaign for their {item}"]


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# ----------------------------------------------------------------------------------------------------
# The brief: what the marketer asks for and the ad copy/look derived from it
# ----------------------------------------------------------------------------------------------------


@dataclass
class Brief:
    product: Product
    offer: str
    pct: int = 0
    days: int = 0
    deadline: tuple[str, str] | None = None
    audience: str | None = None
    mood_word: str | None = None
    mood: str = ""
    color_request: tuple[str, Palette] | None = None
    logo: bool = False
    cta_requested: str | None = None
    headline_requested: str | None = None


def small_banner(fmt: str) -> bool:
    return fmt in ("leaderboard", "skyscraper", "medium_rectangle")


def draw_brief(rng: random.Random, product: Product, platform: str, fmt: str) -> Brief:
    offer = rng.choice(product.offers)
    b = Brief(product=product, offer=offer)
    if offer == "discount":
        b.pct = rng.choice(PERCENTS)
    if offer == "trial":
        b.days = rng.choice(TRIAL_DAYS)
    if offer in ("discount", "shipping", "match") and rng.random() < 0.5:
        b.deadline = rng.choice(DEADLINES)
    if rng.random() < 0.5:
        b.audience = rng.choice(product.audiences)
    if rng.random() < 0.6:
        b.mood = rng.choice(product.moods + (rng.choice(sorted(MOOD_WORDS)),))
        b.mood_word = rng.choice(MOOD_WORDS[b.mood])
    else:
        b.mood = product.moods[0]
    if rng.random() < 0.3:
        b.color_request = rng.choice(COLOR_REQUESTS)
    if not small_banner(fmt) and rng.random() < 0.35:
        b.logo = True
    if rng.random() < 0.25:
        b.cta_requested = product.ctas[1]
    if offer not in ("discount", "trial") and rng.random() < 0.2:
        b.headline_requested = product.tagline
    return b


def write_prompt(rng: random.Random, b: Brief, platform: str, fmt: str) -> str:
    p = b.product
    fmt_phrase = rng.choice(GENERIC_FORMAT_PHRASES) if rng.random() < 0.15 else rng.choice(FORMAT_PHRASES[(platform, fmt)])
    what = rng.choice(WHAT_FORMS).format(possessive=possessive(p.brand), item=p.item, brand=p.brand)
    slots = dict(pct=b.pct, days=b.days, noun=p.noun, event=p.event[0], brand=p.brand,
                 d=b.deadline[0] if b.deadline else "", a=b.audience or "", m=b.mood_word or "",
                 c=b.color_request[0] if b.color_request else "", cta=b.cta_requested or "",
                 h=b.headline_requested or "")
    keys = [k for k, on in (("audience", b.audience), ("mood", b.mood_word), ("colors", b.color_request),
                            ("logo", b.logo), ("cta", b.cta_requested), ("headline", b.headline_requested)) if on]
    rng.shuffle(keys)
    if b.deadline:  # the deadline belongs right after the offer
        keys.insert(0, "deadline")

    style = rng.choices(["sentences", "terse", "casual", "brief"], weights=[5, 2, 2, 1])[0]
    if style == "terse":
        frags = ([OFFER_FRAGMENTS[b.offer].format(**slots)] if b.offer != "none" else [])
        frags += [DETAIL_FRAGMENTS[k].format(**slots) for k in keys]
        if not frags:
            frags = [rng.choice(["make it pop", "nothing fancy", "standard layout"])]
        tpl = rng.choice(TERSE_TEMPLATES)
        return tpl.format(Fmt=cap(fmt_phrase), fmt=fmt_phrase, What=cap(what), what=what, frags=", ".join(frags))

    sentences = [rng.choice(OFFER_SENTENCES[b.offer]).format(**slots)] if b.offer != "none" else []
    sentences += [rng.choice(DETAIL_SENTENCES[k]).format(**slots) for k in keys]
    details = " ".join(sentences)
    if style == "sentences":
        opener = rng.choice(SENTENCE_OPENERS).format(fmt=fmt_phrase, what=what)
        return cap(f"{opener} {details}".strip())
    if style == "casual":
        opener = rng.choice(CASUAL_OPENERS).format(fmt=fmt_phrase, what=what)
        if rng.random() < 0.5:  # typed in a hurry: no capitals at sentence starts
            details = " ".join(s[:1].lower() + s[1:] for s in sentences)
        text = f"{opener} {details}".strip()
        return text + rng.choice(CASUAL_CLOSERS)
    tpl = rng.choice(BRIEF_TEMPLATES)
    return tpl.format(what=cap(what), fmt=fmt_phrase, brand=p.brand, item=p.item, details=details).strip()


@dataclass
class Copy:
    headline: str
    short_headline: str
    subtext: str | None
    cta: str
    badge: str  # the CTA-style label a thumbnail carries instead of a button


def write_copy(b: Brief) -> Copy:
    p = b.product
    deadline = b.deadline[1] if b.deadline else None
    headline, short = p.tagline, p.short
    sub = p.benefit
    badge = (b.cta_requested or p.ctas[0]).upper()
    if b.offer == "discount":
        headline = f"{b.pct}% off {p.noun}"
        short = headline if len(headline) <= 22 else f"Save {b.pct}%"
        sub = f"{deadline}. {p.benefit}" if deadline else p.benefit
        badge = f"{b.pct}% OFF"
    elif b.offer == "trial":
        headline = f"Try {p.brand} free for {b.days} days"
        short = f"{b.days} days free"
        badge = "FREE TRIAL"
    elif b.offer == "launch":
        sub = f"Just launched. {p.benefit}"
        badge = "NEW"
    elif b.offer == "event":
        sub = p.event[1]
    elif b.offer == "shipping":
        sub = f"Free shipping on every order. {deadline}." if deadline else f"Free shipping on every order. {p.benefit}"
    elif b.offer == "match":
        sub = f"Every gift matched 2x. {deadline}." if deadline else f"Every gift matched 2x. {p.benefit}"
    if b.mood == "minimal" and b.offer in ("none", "launch") and not b.headline_requested:
        sub = None  # minimal look: headline, image, button
    if b.cta_requested:
        cta = b.cta_requested
    elif b.offer == "trial" and not any(word in p.ctas[0].lower() for word in ("free", "trial")):
        cta = "Start free trial"  # a trial offer needs a trial button, not "Book a demo"
    else:
        cta = p.ctas[0]
    for text in (headline, short, sub or "", cta, badge):
        assert len(text) <= MAX_TEXT_CHARS, text
    return Copy(headline, short, sub, cta, badge)


# ----------------------------------------------------------------------------------------------------
# Layout: text fitting, element builders, compositions
# ----------------------------------------------------------------------------------------------------


def wrap(text: str, chars: int) -> list[str] | None:
    if chars < 1:
        return None
    lines = textwrap.wrap(text, width=chars, break_long_words=False)
    return None if any(len(line) > chars for line in lines) else lines


def fit_font(text: str, family: str, bold: bool, box_w: int, max_h: int, max_size: int, min_size: int,
             max_lines: int = 4) -> tuple[int, int] | None:
    """Largest font size (and its line count) at which `text` wraps into box_w x max_h, or None."""
    for size in range(min(max_size, 200), max(min_size, 8) - 1, -1):
        glyph = size * GLYPH_WIDTH[family] * (1.06 if bold else 1.0)
        lines = wrap(text, int(box_w // glyph))
        if lines and len(lines) <= max_lines and len(lines) * size * LINE_HEIGHT <= max_h:
            return size, len(lines)
    return None


@dataclass
class Style:
    palette: Palette
    head_font: str
    body_font: str
    head_weight: str


class Layout:
    """Collects elements in paint order (background first) and checks them as it goes."""

    def __init__(self, width: int, height: int, style: Style):
        self.W, self.H, self.style = width, height, style
        self.elements: list[dict] = []

    def _box(self, x, y, w, h) -> dict:
        x, y, w, h = int(round(x)), int(round(y)), int(round(w)), int(round(h))
        assert w >= 1 and h >= 1 and x >= 0 and y >= 0 and x + w <= self.W and y + h <= self.H, (x, y, w, h, self.W, self.H)
        return {"x": x, "y": y, "width": w, "height": h}

    def image(self, x, y, w, h, role: str, description: str) -> None:
        assert len(description) <= MAX_DESCRIPTION_CHARS, description
        self.elements.append({**self._box(x, y, w, h), "type": "image", "role": role, "description": description})

    def _fit(self, candidates: list[str], w, max_h, kind: str, max_size: int, min_size: int, max_lines: int):
        """The first candidate text that fits w x max_h, with its font size and box height."""
        family = self.style.head_font if kind == "headline" else self.style.body_font
        bold = kind == "headline" and self.style.head_weight == "bold"
        for text in candidates:
            fit = fit_font(text, family, bold, int(w), int(max_h), max_size, min_size, max_lines)
            if fit:
                size, n_lines = fit
                return text, size, min(int(max_h), math.ceil(n_lines * size * LINE_HEIGHT))
        raise ValueError(f"no {kind} candidate fits {int(w)}x{int(max_h)} (max {max_size}px): {candidates}")

    def measure(self, candidates: list[str], w, max_h, *, kind: str, max_size: int, min_size: int,
                align: str = "left", max_lines: int = 4) -> int:
        """Height `text` would take, without placing it (to lay out what is painted underneath first)."""
        return self._fit(candidates, w, max_h, kind, max_size, min_size, max_lines)[2]

    def text(self, candidates: list[str], x, y, w, max_h, *, kind: str, max_size: int, min_size: int, align: str,
             valign: str = "top", max_lines: int = 4) -> int:
        """Place the first candidate text that fits; returns the height used. valign centres it in max_h."""
        text, size, h = self._fit(candidates, w, max_h, kind, max_size, min_size, max_lines)
        top = y + (max_h - h) / 2 if valign == "middle" else y
        self.elements.append({
            **self._box(x, top, w, h), "type": "text", "text": text,
            "font_family": self.style.head_font if kind == "headline" else self.style.body_font,
            "font_size": size, "font_weight": self.style.head_weight if kind == "headline" else "regular",
            "color": self.style.palette.headline if kind == "headline" else self.style.palette.body, "align": align})
        return h

    def button(self, label: str, x, y, w, h, font_max: int) -> None:
        """A rounded_rectangle with its label centred on top (the text box is the button's box)."""
        self.elements.append({**self._box(x, y, w, h), "type": "shape", "shape": "rounded_rectangle",
                              "color": self.style.palette.button})
        family = self.style.body_font
        fit = fit_font(label, family, True, int(w * 0.86), int(h * 0.8), font_max, 8, max_lines=1)
        if not fit:
            raise ValueError(f"CTA {label!r} does not fit a {int(w)}x{int(h)} button")
        self.elements.append({**self._box(x, y, w, h), "type": "text", "text": label, "font_family": family,
                              "font_size": fit[0], "font_weight": "bold", "color": self.style.palette.button_text,
                              "align": "center"})

    def body(self, background: str) -> dict:
        assert 1 <= len(self.elements) <= MAX_LAYOUT_ELEMENTS, len(self.elements)
        return {"background_color": background, "elements": self.elements}


def layout_story(L: Layout, c: Copy, b: Brief) -> None:
    """Full-screen vertical (9:16): stacked and centred, kept inside the platforms' UI-safe zone."""
    W, H = L.W, L.H
    m = 0.07 * W
    top, bottom = 0.12 * H, 0.83 * H  # Stories/Reels/TikTok overlay their UI above and below this band
    gap = 0.025 * H
    bh, bw = 0.065 * H, 0.6 * W
    by = bottom - bh
    head = dict(kind="headline", max_size=round(0.09 * W), min_size=round(0.05 * W), align="center")
    sub = dict(kind="sub", max_size=round(0.042 * W), min_size=round(0.028 * W), align="center")
    head_y = top + (0.05 * H + gap if b.logo else 0)
    hh = L.measure([c.headline, c.short_headline], W - 2 * m, 0.17 * H, **head)
    sub_y = head_y + hh + 0.6 * gap
    sh = L.measure([c.subtext], W - 2 * m, 0.09 * H, **sub) if c.subtext else 0
    img_y = sub_y + sh + gap if c.subtext else sub_y + 0.4 * gap
    L.image(m, img_y, W - 2 * m, by - gap - img_y, b.product.role, b.product.image)
    if b.logo:
        L.image((W - 0.28 * W) / 2, top, 0.28 * W, 0.05 * H, "logo", f"{b.product.brand} logo")
    L.text([c.headline, c.short_headline], m, head_y, W - 2 * m, 0.17 * H, **head)
    if c.subtext:
        L.text([c.subtext], m, sub_y, W - 2 * m, 0.09 * H, **sub)
    L.button(c.cta, (W - bw) / 2, by, bw, bh, font_max=round(0.042 * W))


def layout_top_image(L: Layout, c: Copy, b: Brief) -> None:
    """Feed square/portrait: full-bleed photo on top, left-aligned copy and button below."""
    W, H = L.W, L.H
    s = min(W, H)
    m = 0.07 * s
    img_h = 0.5 * H if H > W else 0.47 * H
    L.image(0, 0, W, img_h, b.product.role, b.product.image)
    if b.logo:
        L.image(m, m, 0.22 * W, 0.07 * s, "logo", f"{b.product.brand} logo")
    bh, bw = 0.085 * s, 0.4 * W
    by = H - m - bh
    y = img_h + 0.8 * m
    avail = by - 0.6 * m - y
    hh = L.text([c.headline, c.short_headline], m, y, W - 2 * m, avail * (0.62 if c.subtext else 1.0),
                kind="headline", max_size=round(0.075 * W), min_size=round(0.045 * W), align="left", max_lines=3)
    y += hh + 0.3 * m
    if c.subtext:
        L.text([c.subtext], m, y, W - 2 * m, by - 0.5 * m - y, kind="sub", max_size=round(0.036 * W),
               min_size=round(0.024 * W), align="left", max_lines=3)
    L.button(c.cta, m, by, bw, bh, font_max=round(0.036 * W))


def layout_centered(L: Layout, c: Copy, b: Brief) -> None:
    """Square, for calm/minimal/luxury looks: logo, headline, framed image, supporting line, button, all centred."""
    W, H = L.W, L.H
    m = 0.075 * W
    head = dict(kind="headline", max_size=round(0.068 * W), min_size=round(0.04 * W), align="center", max_lines=2)
    sub = dict(kind="sub", max_size=round(0.034 * W), min_size=round(0.024 * W), align="center", max_lines=2)
    head_y = m + (0.055 * H + 0.03 * H if b.logo else 0)
    hh = L.measure([c.headline, c.short_headline], W - 2 * m, 0.17 * H, **head)
    bh, bw = 0.08 * H, 0.4 * W
    by = H - m - bh
    sh = L.measure([c.subtext], W - 2 * m, 0.1 * H, **sub) if c.subtext else 0
    img_y = head_y + hh + 0.03 * H
    img_bottom = by - 0.03 * H - (sh + 0.025 * H if c.subtext else 0)
    img_w = min(W - 2 * m, (img_bottom - img_y) * 1.3)
    L.image((W - img_w) / 2, img_y, img_w, img_bottom - img_y, b.product.role, b.product.image)
    if b.logo:
        L.image(0.4 * W, m, 0.2 * W, 0.055 * H, "logo", f"{b.product.brand} logo")
    L.text([c.headline, c.short_headline], m, head_y, W - 2 * m, 0.17 * H, **head)
    if c.subtext:
        L.text([c.subtext], m, img_bottom + 0.025 * H, W - 2 * m, 0.1 * H, **sub)
    L.button(c.cta, (W - bw) / 2, by, bw, bh, font_max=round(0.034 * W))


def layout_split(L: Layout, c: Copy, b: Brief) -> None:
    """Landscape feed (~1.8:1 to 1.9:1): copy column on one side, full-height photo on the other."""
    W, H = L.W, L.H
    image_left = b.mood in ("warm", "earthy", "festive", "playful")
    col_w = 0.5 * W
    mx, my = 0.05 * W, 0.1 * H
    img_x = 0 if image_left else W - col_w + 0.02 * W
    text_x = (W - col_w + 0.02 * W + mx) if image_left else mx
    text_w = col_w - 0.02 * W - 2 * mx
    L.image(img_x, 0, W - col_w - 0.02 * W, H, b.product.role, b.product.image)
    y = my
    if b.logo:
        L.image(text_x, y, 0.16 * W, 0.09 * H, "logo", f"{b.product.brand} logo")
        y += 0.09 * H + 0.06 * H
    else:
        y += 0.06 * H
    bh, bw = 0.12 * H, min(text_w, 0.24 * W)
    by = H - my - bh
    avail = by - 0.07 * H - y
    hh = L.text([c.headline, c.short_headline], text_x, y, text_w, avail * (0.62 if c.subtext else 1.0),
                kind="headline", max_size=round(0.095 * H), min_size=round(0.05 * H), align="left", max_lines=3)
    y += hh + 0.04 * H
    if c.subtext:
        L.text([c.subtext], text_x, y, text_w, by - 0.05 * H - y, kind="sub", max_size=round(0.042 * H),
               min_size=round(0.03 * H), align="left", max_lines=3)
    L.button(c.cta, text_x, by, bw, bh, font_max=round(0.045 * H))


def layout_thumbnail(L: Layout, c: Copy, b: Brief) -> None:
    """YouTube thumbnail: big short headline left, subject right, a badge instead of a button, no body copy."""
    W, H = L.W, L.H
    m = 0.05 * W
    img_x = 0.45 * W
    L.image(img_x, 0, W - img_x, H, b.product.role, b.product.image)
    y = m
    if b.logo:
        L.image(m, y, 0.16 * W, 0.1 * H, "logo", f"{b.product.brand} logo")
        y += 0.1 * H + 0.05 * H
    bh = 0.13 * H
    by = H - m - bh
    L.text([c.short_headline, c.headline], m, y, img_x - 1.5 * m, by - 0.06 * H - y, kind="headline",
           max_size=round(0.16 * H), min_size=round(0.08 * H), align="left", valign="middle", max_lines=3)
    badge_size = round(0.06 * H)
    bw = min(img_x - 1.5 * m, len(c.badge) * badge_size * GLYPH_WIDTH[L.style.body_font] * 1.06 / 0.86 + 0.04 * W)
    L.button(c.badge, m, by, bw, bh, font_max=badge_size)


def layout_banner_strip(L: Layout, c: Copy, b: Brief) -> None:
    """Wide display banners (728x90, 970x250): photo | copy | CTA in one row."""
    W, H = L.W, L.H
    tall_enough = H >= 200  # billboard: room for a supporting line and a logo
    m = 0.035 * W if tall_enough else 0.022 * W
    img_w = 0.32 * W if tall_enough else 1.6 * H
    L.image(0, 0, img_w, H, b.product.role, b.product.image)
    bw = 0.2 * W
    bh = 0.22 * H if tall_enough else 0.46 * H
    bx = W - m - bw
    text_x = img_w + m
    text_w = bx - m - text_x
    if tall_enough:
        my = 0.14 * H
        block_h = H - 2 * my
        head_share = 0.58 if c.subtext else 1.0
        hh = L.text([c.headline, c.short_headline], text_x, my, text_w, block_h * head_share, kind="headline",
                    max_size=round(0.18 * H), min_size=round(0.1 * H), align="left", max_lines=2)
        if c.subtext:
            L.text([c.subtext], text_x, my + hh + 0.05 * H, text_w, block_h - hh - 0.05 * H, kind="sub",
                   max_size=round(0.08 * H), min_size=round(0.06 * H), align="left", max_lines=2)
        if b.logo:
            L.image(bx, my, bw, 0.16 * H, "logo", f"{b.product.brand} logo")
        L.button(c.cta, bx, H - my - bh, bw, bh, font_max=round(0.085 * H))
    else:
        L.text([c.headline, c.short_headline], text_x, 0.1 * H, text_w, 0.8 * H, kind="headline",
               max_size=round(0.3 * H), min_size=round(0.18 * H), align="left", valign="middle", max_lines=2)
        L.button(c.cta, bx, (H - bh) / 2, bw, bh, font_max=round(0.2 * H))


def layout_skyscraper(L: Layout, c: Copy, b: Brief) -> None:
    """Narrow tall banner (160x600): headline on top, photo, CTA at the bottom."""
    W, H = L.W, L.H
    m = 0.08 * W
    head = dict(kind="headline", max_size=round(0.15 * W), min_size=round(0.1 * W), align="center", max_lines=5)
    hh = L.measure([c.headline, c.short_headline], W - 2 * m, 0.3 * H, **head)
    bh = 0.065 * H
    by = H - 0.04 * H - bh
    img_y = 0.04 * H + hh + 0.04 * H
    L.image(m, img_y, W - 2 * m, by - 0.04 * H - img_y, b.product.role, b.product.image)
    L.text([c.headline, c.short_headline], m, 0.04 * H, W - 2 * m, 0.3 * H, **head)
    L.button(c.cta, m, by, W - 2 * m, bh, font_max=round(0.1 * W))


def layout_compact(L: Layout, c: Copy, b: Brief) -> None:
    """Small near-square display (300x250): headline, photo, CTA; no body copy."""
    W, H = L.W, L.H
    m = 0.04 * W
    head = dict(kind="headline", max_size=round(0.08 * W), min_size=round(0.05 * W), align="center", max_lines=2)
    hh = L.measure([c.headline, c.short_headline], W - 2 * m, 0.26 * H, **head)
    bh, bw = 0.14 * H, 0.56 * W
    by = H - m - bh
    img_y = m + hh + 0.03 * H
    img_h = by - 0.03 * H - img_y
    img_w = min(W - 2 * m, img_h * 1.6)
    L.image((W - img_w) / 2, img_y, img_w, img_h, b.product.role, b.product.image)
    L.text([c.headline, c.short_headline], m, m, W - 2 * m, 0.26 * H, **head)
    L.button(c.cta, (W - bw) / 2, by, bw, bh, font_max=round(0.055 * W))


COMPOSITIONS = {
    "story": layout_story, "top_image": layout_top_image, "centered": layout_centered, "split": layout_split,
    "thumbnail": layout_thumbnail, "banner_strip": layout_banner_strip, "skyscraper": layout_skyscraper,
    "compact": layout_compact,
}


def choose_composition(fmt: str, width: int, height: int, mood: str) -> str:
    """Composition follows the canvas: aspect ratio first, then size; squares also follow the mood."""
    ratio = width / height
    if ratio >= 3:
        return "banner_strip"
    if ratio <= 0.34:
        return "skyscraper"
    if max(width, height) < 400:
        return "compact"
    if ratio < 0.7:
        return "story"
    if fmt == "thumbnail":
        return "thumbnail"
    if ratio > 1.3:
        return "split"
    if ratio > 0.95 and mood in ("minimal", "luxury", "calm"):
        return "centered"
    return "top_image"


def make_layout(rng: random.Random, b: Brief, platform: str, fmt: str) -> tuple[dict, str]:
    canvas = canvas_for(platform, fmt)
    palette = b.color_request[1] if b.color_request else rng.choice(MOOD_PALETTES[b.mood])
    head_font, body_font = rng.choice(MOOD_FONTS[b.mood])
    style = Style(palette, head_font, body_font, "regular" if b.mood in REGULAR_HEADLINE_MOODS else "bold")
    composition = choose_composition(fmt, canvas.width, canvas.height, b.mood)
    L = Layout(canvas.width, canvas.height, style)
    COMPOSITIONS[composition](L, write_copy(b), b)
    return L.body(palette.background), composition


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------


def generate() -> tuple[list[dict], list[dict], Counter]:
    rng = random.Random(SEED)
    pairs = [(p, f) for p, formats in CANVAS_PRESETS.items() for f in formats]
    product_deck: list[Product] = []
    seen_prompts: set[str] = set()
    train, validation = [], []
    compositions: Counter = Counter()
    for platform, fmt in pairs:
        examples = []
        while len(examples) < PER_PAIR:
            if not product_deck:  # deal products evenly: every product before any repeats
                product_deck = list(PRODUCTS)
                rng.shuffle(product_deck)
            product = product_deck.pop()
            brief = draw_brief(rng, product, platform, fmt)
            prompt = write_prompt(rng, brief, platform, fmt)
            if prompt in seen_prompts:
                continue
            seen_prompts.add(prompt)
            response, composition = make_layout(rng, brief, platform, fmt)
            # the gate: the schema's own validation, on the canvas of this (platform, format)
            design = Design.from_layout(response, canvas_for(platform, fmt))
            response = LayoutBody.model_validate(response).model_dump(mode="json")  # schema's key order
            assert Design.from_layout(response, canvas_for(platform, fmt)) == design
            compositions[(platform, fmt, composition)] += 1
            examples.append({"prompt": prompt, "platform": platform, "format": fmt, "response": response})
        val_idx = set(rng.sample(range(PER_PAIR), VAL_PER_PAIR))
        for i, ex in enumerate(examples):
            (validation if i in val_idx else train).append(ex)
    return train, validation, compositions


def write_jsonl(path: Path, rows: list[dict]) -> str:
    data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    path.write_text(data, encoding="utf-8")
    return hashlib.sha256(data.encode()).hexdigest()


def main() -> int:
    assert len(PRODUCTS) >= 60 and len({p.brand for p in PRODUCTS}) == len(PRODUCTS)
    train, validation, compositions = generate()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    digests = {name: write_jsonl(OUT_DIR / f"{name}.jsonl", rows)
               for name, rows in (("train", train), ("validation", validation))}

    total = len(train) + len(validation)
    print(f"{total} examples: train {len(train)}, validation {len(validation)} "
          f"({len(validation) / total:.0%} validation); {len(PRODUCTS)} products")
    print(f"{'platform/format':<28}{'train':>6}{'val':>6}  composition")
    for platform, formats in CANVAS_PRESETS.items():
        for fmt in formats:
            n_tr = sum(1 for r in train if (r["platform"], r["format"]) == (platform, fmt))
            n_va = sum(1 for r in validation if (r["platform"], r["format"]) == (platform, fmt))
            comps = ", ".join(f"{c}={n}" for (p, f, c), n in sorted(compositions.items()) if (p, f) == (platform, fmt))
            print(f"{platform + '/' + fmt:<28}{n_tr:>6}{n_va:>6}  {comps}")
    per_platform = Counter(r["platform"] for r in train + validation)
    print("per platform:", dict(per_platform))
    n_elements = Counter(len(r["response"]["elements"]) for r in train + validation)
    print("elements per layout:", dict(sorted(n_elements.items())))
    lengths = sorted(len(json.dumps(r["response"], separators=(",", ":"))) for r in train + validation)
    print(f"response JSON chars: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]}")
    for name, digest in digests.items():
        print(f"sha256 {name}.jsonl {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
