"""torchrun entry point for the distributed resume test: `faceedge_train.train`, except that rank 0
dies (os._exit, no cleanup) right after writing the last.pt of epoch $FACEEDGE_TEST_DIE_AFTER_EPOCH,
as when a machine goes away; the launcher then stops the other ranks."""

import os

from faceedge_train import train

DIE_AFTER_EPOCH = int(os.environ["FACEEDGE_TEST_DIE_AFTER_EPOCH"])
real_save = train.save_checkpoint


def save_then_die(path, checkpoint):
    real_save(path, checkpoint)
    if path.name == "last.pt" and checkpoint["training"]["epochs_run"] == DIE_AFTER_EPOCH:
        os._exit(3)


train.save_checkpoint = save_then_die
train.main()
