"""The interactive explorers, one module per notebook family.

- :mod:`gnnedu.widgets.base`: the ``Explorer`` base class every explorer shares.
- :mod:`gnnedu.widgets.message_passing`: the stepper (notebook 02), the receptive-field and
  aggregator explorers (notebook 03).
- :mod:`gnnedu.widgets.recommendations`: the recommendation explorer of notebook 08, its tables
  and drawings.
- :mod:`gnnedu.widgets.new_items`: the new-movie explorer of notebook 09.
- :mod:`gnnedu.widgets.ratings`: the rating explorer of notebook 10 (one user, one movie).
"""
