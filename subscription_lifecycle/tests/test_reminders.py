from odoo.tests import BaseCase, tagged

from ..lib.reminders import due_offset, next_offset, parse_ladder

LADDER = (30, 14, 3, 0)


@tagged("post_install", "-at_install")
class TestReminderLadder(BaseCase):
    def test_each_rung_is_due_from_its_day_on(self):
        self.assertIsNone(due_offset(31, LADDER, set()))
        self.assertEqual(due_offset(30, LADDER, set()), 30)
        self.assertEqual(due_offset(15, LADDER, {30}), None)
        self.assertEqual(due_offset(14, LADDER, {30}), 14)
        self.assertEqual(due_offset(3, LADDER, {30, 14}), 3)
        self.assertEqual(due_offset(0, LADDER, {30, 14, 3}), 0)
        self.assertIsNone(due_offset(-1, LADDER, set()), "nothing after expiry: that is the expiry notice")

    def test_a_sent_rung_is_never_due_again(self):
        self.assertIsNone(due_offset(30, LADDER, {30}))
        self.assertIsNone(due_offset(20, LADDER, {30}))

    def test_after_an_outage_only_the_latest_reached_rung_is_due(self):
        self.assertEqual(due_offset(10, LADDER, set()), 14)
        self.assertEqual(due_offset(0, LADDER, set()), 0)
        self.assertEqual(due_offset(2, LADDER, {30}), 3)

    def test_nothing_is_due_once_a_closer_rung_went_out(self):
        self.assertIsNone(due_offset(2, LADDER, {3}))
        self.assertIsNone(due_offset(10, LADDER, {3}), "the ladder never climbs back")

    def test_the_next_rung_is_the_closest_one_still_to_come(self):
        self.assertEqual(next_offset(40, LADDER, set()), 30)
        self.assertEqual(next_offset(30, LADDER, {30}), 14)
        self.assertEqual(next_offset(10, LADDER, {14}), 3, "caught up on 14 today: 3 comes next")
        self.assertEqual(next_offset(3, LADDER, {30, 14, 3}), 0)
        self.assertIsNone(next_offset(0, LADDER, {0}), "after the expiry-day rung nothing comes")
        self.assertIsNone(next_offset(-5, LADDER, set()))
        self.assertEqual(next_offset(10, LADDER, {3}), 0, "the ladder never climbs back")

    def test_the_next_rung_falls_due_on_its_own_day(self):
        # walking day by day from 45 days out sends each rung once, on its day
        sent = set()
        for days_left in range(45, -3, -1):
            due = due_offset(days_left, LADDER, sent)
            if due is not None:
                self.assertEqual(due, days_left)
                sent.add(due)
            upcoming = next_offset(days_left, LADDER, sent)
            self.assertTrue(upcoming is None or upcoming < days_left)
        self.assertEqual(sent, set(LADDER))

    def test_parse_ladder(self):
        self.assertEqual(parse_ladder("30,14,3,0"), LADDER)
        self.assertEqual(parse_ladder(" 3, 30 ,0,14 "), LADDER)
        self.assertEqual(parse_ladder("7"), (7,))
        for bad in ("", "30,,x", "30,30", "-1", "400", "1.5"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                parse_ladder(bad)
