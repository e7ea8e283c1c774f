"""Where each kind of data comes from: a chain per feed (the account API, the local meter, the
plan the user declared), and the estimates made from that plan. Nothing here imports Textual."""
