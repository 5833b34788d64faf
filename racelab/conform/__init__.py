"""`racelab conform`: is a server, in any language, a valid racelab target?"""
