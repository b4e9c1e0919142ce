# Run by every student's kernel on the class hub (copied to ~/.ipython/profile_default/startup/):
# when a cell asks for more memory than the server's limit, say so in both languages, then show
# the usual error. The kernel stays alive; the student's variables are still there.
import os

import IPython


def _explain_memory_limit(shell, etype, value, tb, tb_offset=None):
    limit = int(os.environ.get("CLASS_MEM_LIMIT_BYTES", "0")) / 1024 ** 3
    print(f"メモリの上限({limit:.1f} GB)をこえました。このセルは止まりましたが、カーネルは動いています。"
          "データやモデルを小さくしてから、もう一度実行してください。")
    print(f"This cell needed more memory than this server's limit ({limit:.1f} GB). The cell stopped; "
          "the kernel is still running. Make the data or the model smaller, then run the cell again.")
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


def _is_out_of_memory(value) -> bool:
    text = str(value)
    return isinstance(value, MemoryError) or "can't allocate memory" in text or "not enough memory" in text


def _handler(shell, etype, value, tb, tb_offset=None):
    if _is_out_of_memory(value):
        return _explain_memory_limit(shell, etype, value, tb, tb_offset)
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)


_shell = IPython.get_ipython()
if _shell is not None and os.environ.get("CLASS_MEM_LIMIT_BYTES"):
    _shell.set_custom_exc((MemoryError, RuntimeError), _handler)
