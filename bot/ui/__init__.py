"""Block Kit builders. Every view and message the bot sends is built here with slack_sdk.models."""
