"""Items: what an item list gives you when you index it (fastai v1's ``ItemBase``).

Read before ``data_block.py``.  An item list stores its items in whatever form batches fastest
(file names, one big uint8 array, class indices), and batches never see the objects below.  But
a person looking at *one* item — ``il[0]``, ``x, y = data.train_ds[0]``, ``learn.predict(x)`` —
gets it wrapped as an object that knows how to print and show itself, as in fastai:

* ``item.data`` — what the model sees of it (a Tensor: pixels, a class index, token numbers);
* ``item.obj``  — what a person sees (a class name, a text; the image itself for images);
* ``str(item)``, ``item.show(ax)``, ``item.apply_tfms(tfms)``.

This file has the base class and :class:`Category` (a class: its index and its name).  Images are
``minitorch/vision/image_item.py``'s ``Image``, texts ``minitorch/text/lm_loader.py``'s ``Text``.
"""
import numpy

from minitorch import backend

__all__ = ["Category", "ItemBase"]


def _plain(value):
    """A Tensor, a backend array or a number as a NumPy array (for comparing items)."""
    value = value.array if hasattr(value, "requires_grad") else value
    return numpy.asarray(backend.to_numpy(value) if backend.is_array(value) else value)


class ItemBase:
    """One item: ``data`` for the model, ``obj`` for people (see the module docstring)."""

    def __init__(self, data, obj=None):
        self.data, self.obj = data, data if obj is None else obj

    def __str__(self):
        return str(self.obj)

    def __repr__(self):
        return f"{type(self).__name__} {self}"

    def show(self, ax, **kwargs):
        """Write the item as the title of ``ax`` (subclasses draw more)."""
        ax.set_title(str(self))
        return ax

    def apply_tfms(self, tfms, **kwargs):
        """Data augmentation: only images have any."""
        if tfms:
            raise TypeError(f"{type(self).__name__}: this kind of item cannot be transformed "
                            f"(got {tfms!r})")
        return self

    def __eq__(self, other):
        """Two items are equal when they are of one kind and their ``data`` is equal."""
        if not isinstance(other, ItemBase) or type(other) is not type(self):
            return NotImplemented
        a, b = _plain(self.data), _plain(other.data)
        return a.shape == b.shape and bool(numpy.all(a == b))

    __hash__ = None  # equal by value, and mutable: not usable as a dict key


class Category(ItemBase):
    """A class: ``data`` its index (a Tensor of one int64), ``obj`` its name; prints as the
    name.  ``int(category)`` is the index."""

    def __init__(self, data, obj):
        super().__init__(data, obj)

    def __int__(self):
        return int(_plain(self.data).reshape(()))
