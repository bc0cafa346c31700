"""Word lists the names are built from. Kept in code so the generator needs no data files.

Apostrophes and non-ASCII words are deliberate: the real data is full of them
(`"I Didn't Mean To"`, `"¿Dónde va Chichi?"`, `"Des'ree"`, `"Montserrat Caballé"`).
"""

TITLE_WORDS = (
    "Love Night Heart Soul Deep Fire Rain Dream Blue Road Home Light Dance Baby Time World Girl Boy "
    "Summer Moon Sun Star Sky River Train City Street Gold Silver Stone Wild Sweet Cold Hot Lonely "
    "Midnight Morning Shadow Ghost Angel Devil Heaven Paradise Ocean Island Desert Winter Spring "
    "Electric Radio Machine Memory Secret Mirror Window Door Kingdom Empire Revolution Freedom "
    "Highway Thunder Lightning Storm Crazy Little Big Young Old Golden Broken Falling Running "
    "Flying Burning Shining Forever Tonight Yesterday Tomorrow Sehr Kosmisch Amor Cabaret Auguri "
    "Corazón Canción Noche Días Mañana Señorita Café Fiesta Über Straße Mädchen Zoë Noël Ça Déjà Vu "
    "Didn't Don't Can't Won't I'm You're It's Ain't Rock'n'Roll Lovin' Nothin' Somethin' O'Clock"
).split()

TITLE_PATTERNS = (
    "{a}", "{a} {b}", "The {a} {b}", "{a} Of {b}", "{a} In The {b}", "I Didn't Mean To {a}",
    "Don't {a} Me", "{a} (Album Version)", "{a} (Live)", "{a} & {b}", "¿{a} {b}?", "{a}'s {b}",
    "Intro", "{a} Part 2", "{a} {b} {c}", "We're {a}", "{a} - {b} Mix",
)

ARTIST_FIRST = (
    "Bob Casual Adam Elena Dwight Björk Sonora Montserrat Placido Georg Des Jimmy Lily Marvin "
    "Nina Otis Patsy Ray Sam Tammy Willie Zoé Héctor Jürgen Ólafur José Françoise Sinéad Chloé "
    "Kevin Aaron Billie Curtis Dolly Etta Frank Gloria Hank Irma Jackie Kate Luther Mavis"
).split()

ARTIST_LAST = (
    "Azzam Ant Yoakam Santanera Caballé Domingo Solti Frye Koch Waters Simone Redding Cline "
    "Charles Cooke Wynette Nelson Lavoe Müller Arnalds González Hardy O'Connor D'Arby Holiday "
    "Mayfield Parton James Estefan Williams Thomas Parker Vandross Staples Bush Sinatra Cash"
).split()

BAND_WORDS = (
    "Box Tops Prodigy Kings Leon Harmonia Train Coldplay Oizo Clp Wolves Lions Tigers Machines "
    "Ghosts Strangers Brothers Sisters Rebels Pilots Gardens Mountains Rivers Engines Radios "
    "Señores Mariachis Fräulein Garçons"
).split()

ARTIST_PATTERNS = (
    "{f} {l}", "The {b} {c}", "{b} {c}", "{f} {l} & The {b}", "{l}", "{f} {l};{g} {m}",
    "{b}", "Mr {b}", "DJ {f}", "{f}'s {b}",
)

ARTIST_LOCATIONS = (
    "Memphis, TN", "California - LA", "London, England", "New York, NY", "Paris, France",
    "Chicago, IL", "Detroit, MI", "Nashville, TN", "Seattle, WA", "Berlin, Germany", "Reykjavík, Iceland",
    "Montréal, Québec", "México, D.F.", "Austin, TX", "Kingston, Jamaica", "Dublin, Ireland",
    "Hamburg", "Oslo, Norway", "Atlanta, GA", "Los Angeles, CA", "Brooklyn, NY", "Glasgow, Scotland",
)

FIRST_NAMES_F = (
    "Kaylee Sylvie Stefany Marina Makinley Lily Kynnedi Tegan Aleena Chloe Ava Ayleen Celeste "
    "Anabelle Sara Ayla Cecilia Jacqueline Lily Rylan Katherine Jizelle Layla Morgan Jacob Emily "
    "Molly Hannah Zoe Olivia Sophia Mia Harper Amelia Ella Aria Scarlett Grace Nora"
).split()

FIRST_NAMES_M = (
    "Walter Ryan Jayden Kevin Aiden Mohammad Adler Samuel Joseph Austin Kaleb Isaac Connar "
    "Wyatt Lucas Liam Noah Elijah James Logan Mason Ethan Jackson Sebastian Carter Owen Dylan "
    "Matthew Henry Leo Jack Theodore Levi Gabriel Julian Mateo Anthony Jaxon Lincoln"
).split()

LAST_NAMES = (
    "Frye Summers Cruz Smith Fox White Arellano Sutton Hess Jones Koch Sanchez Levine Kirby "
    "Rodriguez Cuevas Barrera Gonzalez Gutierrez Robinson Rosales Wise Cook Valdez Williams "
    "Simpson Moreno Johnson Owens Lindsey Stephenson Taylor Brown Miller Davis Garcia Wilson "
    "Anderson Thomas Moore Martin Jackson Thompson Harris Clark Lewis Lee Walker Hall Allen"
).split()

# Metropolitan areas as in the real log `location` (always contains a comma).
USER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA", "Phoenix-Mesa-Scottsdale, AZ",
    "Washington-Arlington-Alexandria, DC-VA-MD-WV", "San Jose-Sunnyvale-Santa Clara, CA",
    "New Orleans-Metairie, LA", "Lubbock, TX", "Harrisburg-Carlisle, PA", "Salinas, CA",
    "La Crosse-Onalaska, WI-MN", "Chicago-Naperville-Elgin, IL-IN-WI", "Cedar Rapids, IA",
    "Portland-South Portland, ME", "Waterloo-Cedar Falls, IA", "Sacramento--Roseville--Arden-Arcade, CA",
    "New York-Newark-Jersey City, NY-NJ-PA", "Houston-The Woodlands-Sugar Land, TX", "Columbia, SC",
    "New Haven-Milford, CT", "Yuba City, CA", "Saginaw, MI", "Klamath Falls, OR",
    "Philadelphia-Camden-Wilmington, PA-NJ-DE-MD", "Winston-Salem, NC", "Santa Rosa, CA",
    "Atlanta-Sandy Springs-Roswell, GA", "Salt Lake City, UT", "San Antonio-New Braunfels, TX",
    "Marinette, WI-MI", "Birmingham-Hoover, AL", "Portland-Vancouver-Hillsboro, OR-WA",
    "Dallas-Fort Worth-Arlington, TX", "Indianapolis-Carmel-Anderson, IN",
    "Minneapolis-St. Paul-Bloomington, MN-WI", "Tampa-St. Petersburg-Clearwater, FL",
    "St. Louis, MO-IL", "Miami-Fort Lauderdale-West Palm Beach, FL", "Los Angeles-Long Beach-Anaheim, CA",
    "Detroit-Warren-Dearborn, MI", "Nashville-Davidson--Murfreesboro--Franklin, TN", "London, KY",
    "San Diego-Carlsbad, CA", "Richmond, VA", "Seattle-Tacoma-Bellevue, WA",
    "Myrtle Beach-Conway-North Myrtle Beach, SC-NC",
)

# (user agent, weight). Chrome/Safari agents carry literal double quotes, as in the real data;
# Firefox and MSIE agents do not.
USER_AGENTS = (
    ('"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
     'Chrome/36.0.1985.143 Safari/537.36"', 1098),
    ('"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) '
     'Version/7.0.6 Safari/537.78.2"', 784),
    ("Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0", 780),
    ('"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Ubuntu Chromium/36.0.1985.125 '
     'Chrome/36.0.1985.125 Safari/537.36"', 644),
    ('"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 '
     'Safari/537.36"', 615),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0", 499),
    ('"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 '
     'Safari/537.36"', 494),
    ('"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 '
     'Safari/537.36"', 486),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0", 356),
    ('"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) '
     'Version/7.0 Mobile/11D257 Safari/9537.53"', 262),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", 27),
    ("Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; WOW64; Trident/6.0)", 12),
)

# Share of all events per UTC hour of day, from the real sample's hour-of-day totals.
HOUR_WEIGHTS = (
    185, 201, 157, 130, 159, 206, 230, 219, 246, 311, 356, 391,
    368, 415, 504, 577, 626, 572, 579, 431, 397, 326, 247, 223,
)
