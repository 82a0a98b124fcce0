"""What the bot keeps in Redis (the only redis user): the connection, the key layout, request
records and their lifecycle compare-and-set, encrypted ZStack sessions."""
