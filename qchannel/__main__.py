import sys

from qchannel.cli import main

sys.exit(main())
