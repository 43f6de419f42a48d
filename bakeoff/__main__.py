"""``python -m bakeoff`` runs the console script."""

from bakeoff.cli import main

if __name__ == "__main__":
    main()
