from edgekd.cli import main

main()
