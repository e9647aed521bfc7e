"""The staff's web console: server-rendered pages over the four services' HTTP APIs.

It holds no state of the platform: every page asks the services with the signed-in person's
token, and every action is a command a service decides (and may refuse, shown in words). See
docs/console.md.
"""
