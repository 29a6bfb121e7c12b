"""Small hand-made gazetteer for name reconciliation: places, well-known organisations, the
aliases that refer to them, and the words that cue a name's kind.

Keys are normalised forms (see ``names.normalise``): lower case, ASCII, hyphens and periods
turned into spaces. Values of ``ALIASES`` are canonical keys. Kept deliberately small and
global: it only needs to cover the names whose aliases share no words ("DPRK" / "North Korea").
"""

from __future__ import annotations

from storyline.domain.extract.text import wordset


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


# canonical: alias, alias, ...
_ALIAS_TABLE = """
united states: us, u s, usa, u s a, united states of america, america
united kingdom: uk, u k, britain, great britain, gb
north korea: dprk, n korea, democratic people's republic of korea, pyongyang regime
south korea: s korea, rok, republic of korea
russia: russian federation
china: prc, people's republic of china, mainland china
united nations: un, u n
european union: eu, e u
united arab emirates: uae, u a e
soviet union: ussr, u s s r
nato: north atlantic treaty organization, north atlantic treaty organisation
international monetary fund: imf
world health organization: who, world health organisation
world bank: the world bank
federal reserve: fed, us federal reserve, federal reserve board, u s federal reserve
european central bank: ecb
bp: british petroleum, bp plc
korean central news agency: kcna
international criminal court: icc
centers for disease control and prevention: cdc, centers for disease control
securities and exchange commission: sec
federal bureau of investigation: fbi
central intelligence agency: cia
american international group: aig
democratic republic of the congo: drc, dr congo
new york: nyc, new york city
washington: washington dc, washington d c
los angeles: l a
hong kong: hk
al qaeda: al qaida, qaeda, qaida, al-qaeda
"""
ALIASES: dict[str, str] = {}
for _line in _lines(_ALIAS_TABLE):
    _canonical, _, _aliases = _line.partition(":")
    ALIASES[_canonical.strip()] = _canonical.strip()
    for _alias in _aliases.split(","):
        ALIASES[_alias.strip()] = _canonical.strip()

# Aliases that are ordinary English words in lower or title case: only all-caps counts.
CASE_SENSITIVE_ALIASES = wordset("US WHO UN EU UK SEC ICC AIG")

DEMONYMS: dict[str, str] = {
    "american": "united states", "british": "united kingdom", "north korean": "north korea",
    "south korean": "south korea", "russian": "russia", "ukrainian": "ukraine",
    "chinese": "china", "egyptian": "egypt", "israeli": "israel", "palestinian": "palestine",
    "iranian": "iran", "iraqi": "iraq", "afghan": "afghanistan", "pakistani": "pakistan",
    "indian": "india", "japanese": "japan", "german": "germany", "french": "france",
    "italian": "italy", "spanish": "spain", "greek": "greece", "irish": "ireland",
    "icelandic": "iceland", "mexican": "mexico", "brazilian": "brazil", "liberian": "liberia",
    "syrian": "syria", "turkish": "turkey", "saudi": "saudi arabia", "libyan": "libya",
    "tunisian": "tunisia", "lebanese": "lebanon", "jordanian": "jordan", "sudanese": "sudan",
    "nigerian": "nigeria", "kenyan": "kenya", "canadian": "canada", "australian": "australia",
    "sierra leonean": "sierra leone", "polish": "poland",
    "dutch": "netherlands", "swiss": "switzerland", "swedish": "sweden",
    "european": "europe", "senegalese": "senegal", "burkinabe": "burkina faso",
    "venezuelan": "venezuela", "cuban": "cuba", "somali": "somalia",
    "ethiopian": "ethiopia", "yemeni": "yemen", "qatari": "qatar", "kuwaiti": "kuwait",
}  # fmt: skip

PLACES = frozenset(
    _lines(
        """
afghanistan
albania
algeria
angola
argentina
armenia
australia
austria
azerbaijan
bahrain
bangladesh
belarus
belgium
bolivia
bosnia
brazil
bulgaria
burma
myanmar
cambodia
cameroon
canada
chad
chile
china
colombia
congo
croatia
cuba
cyprus
czech republic
denmark
ecuador
egypt
eritrea
estonia
ethiopia
finland
france
gaza
georgia
germany
ghana
greece
guatemala
guinea
haiti
honduras
hungary
iceland
india
indonesia
iran
iraq
ireland
israel
italy
ivory coast
jamaica
japan
jordan
kazakhstan
kenya
kosovo
kuwait
laos
latvia
lebanon
liberia
libya
lithuania
luxembourg
malaysia
mali
malta
mexico
moldova
mongolia
morocco
mozambique
nepal
netherlands
holland
new zealand
nicaragua
niger
nigeria
north korea
norway
oman
pakistan
palestine
panama
paraguay
peru
philippines
poland
portugal
qatar
romania
russia
rwanda
saudi arabia
senegal
serbia
sierra leone
singapore
slovakia
slovenia
somalia
south africa
south korea
spain
sri lanka
sudan
sweden
switzerland
syria
taiwan
tajikistan
tanzania
thailand
tunisia
turkey
turkmenistan
uganda
ukraine
united arab emirates
united kingdom
united states
uruguay
uzbekistan
venezuela
vietnam
west bank
yemen
zambia
zimbabwe
soviet union
england
scotland
wales
northern ireland
europe
asia
africa
latin america
middle east
gulf of mexico
kursk
moscow
kyiv
kiev
pyongyang
seoul
beijing
tokyo
london
paris
berlin
brussels
rome
madrid
athens
cairo
alexandria
suez
tahrir square
jerusalem
tel aviv
baghdad
kabul
tehran
islamabad
delhi
new delhi
mumbai
monrovia
freetown
hague
geneva
zurich
reykjavik
dublin
brasilia
sao paulo
rio de janeiro
mexico city
ottawa
toronto
sydney
new york
washington
los angeles
chicago
houston
boston
san francisco
new orleans
miami
atlanta
detroit
las vegas
dallas
seattle
alabama
alaska
arizona
arkansas
california
colorado
connecticut
delaware
florida
hawaii
idaho
illinois
indiana
iowa
kansas
kentucky
louisiana
maine
maryland
massachusetts
michigan
minnesota
mississippi
missouri
montana
nebraska
nevada
new hampshire
new jersey
new mexico
north carolina
north dakota
ohio
oklahoma
oregon
pennsylvania
rhode island
south carolina
south dakota
tennessee
texas
utah
vermont
virginia
west virginia
wisconsin
wyoming
wall street
hong kong
crimea
donbas
chechnya
burkina faso
cote d'ivoire
guinea bissau
equatorial guinea
central african republic
south sudan
east timor
papua new guinea
bahamas
barbados
fiji
botswana
namibia
malawi
lesotho
gabon
benin
togo
gambia
mauritania
madagascar
mauritius
bhutan
brunei
maldives
cape verde
djibouti
dominican republic
el salvador
costa rica
belize
guyana
suriname
kyrgyzstan
montenegro
macedonia
andorra
monaco
liechtenstein
vatican
milan
turin
naples
venice
florence
barcelona
munich
frankfurt
hamburg
vienna
prague
warsaw
budapest
bucharest
sofia
belgrade
istanbul
ankara
damascus
beirut
amman
riyadh
dubai
doha
abu dhabi
karachi
lahore
kathmandu
dhaka
bangkok
hanoi
manila
jakarta
kuala lumpur
shanghai
taipei
osaka
melbourne
auckland
cape town
johannesburg
lagos
nairobi
addis ababa
khartoum
tripoli
tunis
algiers
rabat
casablanca
kinshasa
abidjan
dakar
accra
havana
caracas
bogota
lima
santiago
buenos aires
montevideo
vancouver
montreal
philadelphia
baltimore
denver
phoenix
minneapolis
cleveland
pittsburgh
st petersburg
sochi
tbilisi
minsk
donetsk
luhansk
kharkiv
odessa
sevastopol
edinburgh
glasgow
manchester
liverpool
birmingham
leeds
belfast
cardiff
strasbourg
marseille
lyon
sicily
sardinia
corsica
bavaria
catalonia
tuscany
kashmir
punjab
tibet
xinjiang
kurdistan
darfur
sinai
golan heights
gaza strip
samaria
judea
galveston
pensacola
mobile bay
"""
    )
)

ORGANISATIONS = frozenset(
    _lines(
        """
united nations
european union
nato
international monetary fund
world health organization
world bank
federal reserve
european central bank
bp
korean central news agency
international criminal court
centers for disease control and prevention
securities and exchange commission
federal bureau of investigation
central intelligence agency
american international group
congress
senate
parliament
pentagon
white house
kremlin
treasury
reuters
associated press
ap
afp
yonhap
bbc
cnn
general motors
general electric
goldman sachs
lehman brothers
merrill lynch
morgan stanley
citigroup
hamas
hezbollah
taliban
al qaeda
muslim brotherhood
transocean
halliburton
"""
    )
)

# A last word that makes a name an organisation, or a place.
ORG_SUFFIXES = wordset(
    """inc corp corporation co company ltd plc llc group bank banks agency association
    department ministry council committee party fund reserve commission university college
    school administration institute service services board court congress senate parliament
    assembly army navy police union authority organisation organization federation foundation
    securities holdings partners capital motors airlines airways exchange network news times
    post journal herald telegraph guardian tribune press television radio channel brothers
    industries energy petroleum oil resources technologies systems media studio studios
    church hospital office bureau government cabinet forces force command corps league club
    team guard trust society centre center front movement alliance coalition brigade regiment
    division battalion tribunal lab laboratory laboratories international""".replace("\n", " ")
)
ORG_HEADS = wordset("bank university department ministry office council institute house")
PLACE_HEADS = wordset("county lake mount port fort cape gulf isle")
# A last word that makes a name an event or a thing rather than a person: "Gulf War".
OTHER_SUFFIXES = wordset(
    """war wars crisis scandal affair summit games cup olympics prize award awards act bill
    treaty accord accords agreement plan report day storm hurricane spill map"""
)
PLACE_SUFFIXES = wordset(
    """street avenue road river lake island islands beach bay gulf sea ocean coast peninsula
    strait canal airport region province county city valley mountains mountain desert square
    state states republic kingdom district oblast sound harbor harbour port strip territories
    territory heights"""
)
# Words that precede a person's name and are not part of it.
TITLES = wordset(
    """mr mrs ms dr sir dame lord lady president vice prime minister premier chancellor
    secretary senator sen rep representative gov governor mayor judge justice general gen lt
    colonel col captain capt sgt sergeant admiral adm king queen prince princess pope rev
    reverend father sheikh ayatollah chairman chairwoman chief executive director commissioner
    ambassador speaker leader prof professor detective officer inspector attorney deputy
    acting marshal emperor spokesman spokeswoman coach dictator comrade foreign defence defense
    interior finance health former late ceo cfo pm incumbent singer rapper actor actress
    star warlord rebel"""
)
# Capitalised words that start sentences or headings but are not names.
NOT_NAMES = wordset(
    """a an the and but or nor so yet for if then than when while where what which who whom
    whose why how this that these those there here it its he she we they i you his her their
    our my your him them us me one some any all each every both many much more most few
    several no not nor only also even just still as at by from in into of on onto to with
    without after before during since until about above below over under between among
    against through across around after because although though however meanwhile moreover
    furthermore instead indeed perhaps maybe yes oh mr mrs ms dr today yesterday tomorrow
    tonight now later earlier last next first second third other another such like
    according despite including unlike photograph photo video watch read click see share
    follow update updated related editor note advertisement
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december jan feb mar apr jun jul aug sep sept
    oct nov dec do does did is are was were be been has have had will would can could should
    may might must said says say asked told added do don't it's i'm we're they're there's
    let let's please thanks thank well now so plus early late""".replace("\n", " ")
)
