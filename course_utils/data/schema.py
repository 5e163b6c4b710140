"""The files of the MyAnimeList dataset: names, columns and codes.

The synthetic generator writes exactly these files and columns, and the loader
reads the real Kaggle files through the same definitions. Columns marked as
*needed* must be present (extra columns are fine); the others are written by
the generator because the real files have them.

Example
-------
>>> STATUS_NAMES[2]
'Completed'
>>> len(ANIME_COLUMNS), len(USER_COLUMNS), len(LIST_COLUMNS)
(31, 17, 11)
"""
from __future__ import annotations

# --- file names (as in the Kaggle dataset azathoth42/myanimelist) -------------
ANIME_FILE = "AnimeList.csv"
USERS_FILE = "UserList.csv"
USERS_CLEANED_FILE = "users_cleaned.csv"
LISTS_FILE = "UserAnimeList.csv"
LISTS_CLEANED_FILE = "animelists_cleaned.csv"  # accepted instead of UserAnimeList.csv
STATUS_FILE = "watching_status.csv"

# --- the CooperUnion "Anime Recommendations Database" -------------------------
COOPER_ANIME_FILE = "anime.csv"
COOPER_RATING_FILE = "rating.csv"
COOPER_ANIME_COLUMNS = ("anime_id", "name", "genre", "type", "episodes", "rating", "members")
COOPER_RATING_COLUMNS = ("user_id", "anime_id", "rating")

# --- AnimeList.csv: 31 columns ------------------------------------------------
ANIME_COLUMNS = (
    "anime_id", "title", "title_english", "title_japanese", "title_synonyms",
    "image_url", "type", "source", "episodes", "status", "airing", "aired_string",
    "aired", "duration", "rating", "score", "scored_by", "rank", "popularity",
    "members", "favorites", "background", "premiered", "broadcast", "related",
    "producer", "licensor", "studio", "genre", "opening_theme", "ending_theme",
)
ANIME_NEEDED = ("anime_id", "title", "type", "episodes", "genre", "members")
ANIME_OPTIONAL = ("title_english", "score", "scored_by", "studio", "aired_string",
                  "source", "related")

# --- UserList.csv (and users_cleaned.csv): 17 columns --------------------------
USER_COLUMNS = (
    "username", "user_id", "user_watching", "user_completed", "user_onhold",
    "user_dropped", "user_plantowatch", "user_days_spent_watching", "gender",
    "location", "birth_date", "access_rank", "join_date", "last_online",
    "stats_mean_score", "stats_rewatched", "stats_episodes",
)
USER_NEEDED = ("username", "user_id")
USER_OPTIONAL = ("gender", "join_date", "last_online", "user_days_spent_watching",
                 "stats_mean_score", "stats_episodes")

# --- UserAnimeList.csv: 11 columns ---------------------------------------------
LIST_COLUMNS = (
    "username", "anime_id", "my_watched_episodes", "my_start_date",
    "my_finish_date", "my_score", "my_status", "my_rewatching", "my_rewatching_ep",
    "my_last_updated", "my_tags",
)
LIST_NEEDED = ("username", "anime_id", "my_watched_episodes", "my_score",
               "my_status", "my_last_updated")
LIST_OPTIONAL = ("my_rewatching",)

# --- watching status ----------------------------------------------------------
STATUS_NAMES = {
    1: "Currently Watching",
    2: "Completed",
    3: "On Hold",
    4: "Dropped",
    6: "Plan to Watch",
}
KEPT_STATUSES = (1, 2)  # the thesis keeps "watching" and "completed"
# MyAnimeList's export format gives 0 and 5 no meaning; should a row carry one
# it is removed and counted by the cleaning step. Any other code is an error.
INVALID_STATUSES = (0, 5)
MISSING_DATE = "0000-00-00"

# --- the 40 genres of the synthetic catalogue (names as on MyAnimeList) --------
GENRES = (
    "Action", "Adventure", "Cars", "Comedy", "Dementia", "Demons", "Drama",
    "Ecchi", "Fantasy", "Game", "Harem", "Historical", "Horror", "Josei", "Kids",
    "Magic", "Martial Arts", "Mecha", "Military", "Music", "Mystery", "Parody",
    "Police", "Psychological", "Romance", "Samurai", "School", "Sci-Fi", "Seinen",
    "Shoujo", "Shoujo Ai", "Shounen", "Shounen Ai", "Slice of Life", "Space",
    "Sports", "Super Power", "Supernatural", "Thriller", "Vampire",
)
ANIME_TYPES = ("TV", "Movie", "OVA", "Special", "ONA", "Music")
